// locus-lower-kernels-to-llvm: only @locus_kernels is lowered, to the LLVM
// dialect, with the C entry points the runtime calls.
// RUN: locus-opt %s --locus-generate-update-kernels --locus-lower-kernels-to-llvm | FileCheck %s
// RUN: not locus-opt %s --locus-lower-kernels-to-llvm 2>&1 | FileCheck %s --check-prefix=MISSING

// The network stays in func and locus ops.
// CHECK: func.func @net(%{{.*}}: tensor<8x1x8x8xf32>)
// CHECK: module @locus_kernels attributes {locus.kernels} {
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK-NOT: func.func
// CHECK: llvm.func @locus_adamw_update(
// One loop: a block that branches back to the header.
// CHECK: llvm.cond_br
// CHECK: llvm.intr.sqrt
// CHECK: llvm.func @_mlir_ciface_locus_adamw_update(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: f32,
// CHECK: llvm.func @locus_sgd_update(
// CHECK: llvm.func @_mlir_ciface_locus_sgd_update(
// CHECK: llvm.func @locus_lars_norms(
// CHECK: llvm.fpext %{{.*}} : f32 to f64
// CHECK: llvm.func @_mlir_ciface_locus_lars_norms(

// MISSING: error: no @locus_kernels module to lower (run locus-generate-update-kernels first)
module {
  func.func @net(%x: tensor<8x1x8x8xf32>) -> tensor<8x1x8x8xf32> {
    return %x : tensor<8x1x8x8xf32>
  }
}
