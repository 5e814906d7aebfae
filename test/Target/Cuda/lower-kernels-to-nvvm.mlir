// locus-lower-kernels-to-nvvm: a GPU-mapped kernel becomes PTX for sm_90
// (gpu.binary) and a host entry point that launches it; nothing but the LLVM
// dialect, binaries and launches is left in @locus_kernels.
// REQUIRES: cuda-libdevice
// RUN: locus-opt %s --locus-map-kernels-to-gpu --locus-lower-kernels-to-nvvm | FileCheck %s
// RUN: echo "module {}" | not locus-opt --locus-lower-kernels-to-nvvm 2>&1 | FileCheck %s --check-prefix=MISSING

// CHECK: module @locus_kernels attributes {gpu.container_module, locus.kernels}
// CHECK: llvm.func @scale(
// CHECK:   gpu.launch_func @scale_kernel::@scale_kernel blocks in
// CHECK: llvm.func @_mlir_ciface_scale(
// CHECK: gpu.binary @scale_kernel [#gpu.object<#nvvm.target<chip = "sm_90", features = "+ptx80">
// CHECK-SAME: .target sm_90
// CHECK-SAME: .entry scale_kernel
// CHECK-NOT: memref.
// CHECK-NOT: scf.
module {
  module @locus_kernels attributes {locus.kernels} {
    func.func @scale(%x: memref<?xf32>) attributes {llvm.emit_c_interface} {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %n = memref.dim %x, %c0 : memref<?xf32>
      scf.parallel (%i) = (%c0) to (%n) step (%c1) {
        %v = memref.load %x[%i] : memref<?xf32>
        %r = math.sqrt %v : f32
        memref.store %r, %x[%i] : memref<?xf32>
      }
      return
    }
  }
}
// MISSING: error: no @locus_kernels module to lower (run locus-map-kernels-to-gpu first)
