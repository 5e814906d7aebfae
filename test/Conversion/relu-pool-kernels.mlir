// RUN: locus-opt %s --locus-generate-relu-pool-kernels | FileCheck %s
// RUN: locus-opt %s --locus-generate-relu-pool-kernels --locus-lower-kernels-to-llvm | FileCheck %s --check-prefix=LOWERED
// The Fashion-MNIST object lists its two epilogues in the table the runtime
// reads (with block 1's conv left unfused; fused, only block 2's remains).
// RUN: locusc %examples/fmnist.onnxtxt --fuse-conv-relu-pool=false --emit=obj -o %t.o
// RUN: llvm-nm %t.o | FileCheck %s --check-prefix=SYMS
// SYMS-DAG: D locus_model
// SYMS-DAG: {{[DR]}} locus_relu_pool_kernels
// SYMS-DAG: T _mlir_ciface_locus_relu_max_pool_128x28x28_k2x2
// SYMS-DAG: T _mlir_ciface_locus_relu_max_unpool_128x28x28_k2x2
// SYMS-DAG: T _mlir_ciface_locus_relu_max_pool_256x14x14_k2x2
// SYMS-DAG: T _mlir_ciface_locus_relu_max_unpool_256x14x14_k2x2
// SYMS-DAG: T _mlir_ciface_locus_relu_pool_unindexed_128x28x28_k2x2
// SYMS-DAG: T _mlir_ciface_locus_relu_unpool_in_place_128x28x28_k2x2
// One forward and one backward kernel per (C, H, W, window) of a
// relu_max_pool2d whose window tiles the map; the same shape twice gets one
// pair, and an overlapping window (3x3 stride 2) gets none.

// CHECK-LABEL: module @locus_kernels
// CHECK-NOT: k3x3
// 8x8 maps: 4-wide output rows, one vector group of 4 windows per row.
// CHECK: func.func @locus_relu_max_pool_8x8x8_k2x2(%[[A:.*]]: memref<?x8x8x8xf32> {llvm.noalias}, %[[H:.*]]: memref<?x8x4x4xf32> {llvm.noalias}, %[[ARG:.*]]: memref<?x8x4x4xi32> {llvm.noalias}) attributes {llvm.emit_c_interface}
// CHECK:   %[[N:.*]] = memref.dim %[[A]], %{{.*}} : memref<?x8x8x8xf32>
// Every (n, c, output row, column group) is a parallel iteration.
// CHECK:   scf.parallel ({{.*}}) = ({{.*}}) to (%[[N]], %{{.*}}, %{{.*}}, %{{.*}})
// The first window row: 8 contiguous columns split into even and odd lanes,
// each a candidate that wins when greater (the start is 0: the relu) or NaN.
// CHECK:     %[[ROW:.*]] = vector.load %[[A]][{{.*}}] : memref<?x8x8x8xf32>, vector<8xf32>
// CHECK:     %[[EVEN:.*]] = vector.shuffle %[[ROW]], %[[ROW]] [0, 2, 4, 6]
// CHECK:     arith.cmpf ogt, %[[EVEN]], %{{.*}} : vector<4xf32>
// CHECK:     arith.cmpf uno, %[[EVEN]], %[[EVEN]] : vector<4xf32>
// CHECK:     vector.shuffle %[[ROW]], %[[ROW]] [1, 3, 5, 7]
// CHECK:     arith.constant dense<1> : vector<4xi32>
// CHECK:     vector.load %[[A]]
// CHECK:     arith.constant dense<3> : vector<4xi32>
// CHECK:     vector.store %{{.*}}, %[[H]][{{.*}}] : memref<?x8x4x4xf32>, vector<4xf32>
// CHECK:     vector.store %{{.*}}, %[[ARG]][{{.*}}] : memref<?x8x4x4xi32>, vector<4xi32>
// The backward kernel repeats each window's gradient over its two columns and
// keeps it where the arg-max is that position and h > 0; one store per row.
// CHECK: func.func @locus_relu_max_unpool_8x8x8_k2x2(%[[DH:.*]]: memref<?x8x4x4xf32> {llvm.noalias}, %{{.*}}: memref<?x8x4x4xf32> {llvm.noalias}, %{{.*}}: memref<?x8x4x4xi32> {llvm.noalias}, %[[DA:.*]]: memref<?x8x8x8xf32> {llvm.noalias})
// CHECK-NOT: linalg.fill
// CHECK:     vector.shuffle %{{.*}}, %{{.*}} [0, 0, 1, 1, 2, 2, 3, 3] : vector<4xf32>, vector<4xf32>
// CHECK:     arith.constant dense<[0, 1, 0, 1, 0, 1, 0, 1]> : vector<8xi32>
// CHECK:     vector.store %{{.*}}, %[[DA]][{{.*}}] : memref<?x8x8x8xf32>, vector<8xf32>
// CHECK:     arith.constant dense<[2, 3, 2, 3, 2, 3, 2, 3]> : vector<8xi32>
// CHECK:     vector.store %{{.*}}, %[[DA]][{{.*}}] : memref<?x8x8x8xf32>, vector<8xf32>
// Where the windows cover the map, the pair without an arg-max: h alone, and
// the adjoint over a (one buffer, so no noalias on it), each group of
// windows scanning its rows of a again before it writes any of them with da
// (here the groups tile the rows: one parallel iteration each; rows that end
// in an overlapping group run their groups in order, CompiledKernelsTest).
// CHECK: func.func @locus_relu_pool_unindexed_8x8x8_k2x2(%{{.*}}: memref<?x8x8x8xf32> {llvm.noalias}, %{{.*}}: memref<?x8x4x4xf32> {llvm.noalias}) attributes
// CHECK-NOT: memref<?x8x4x4xi32>
// CHECK: func.func @locus_relu_unpool_in_place_8x8x8_k2x2(%[[IDH:.*]]: memref<?x8x4x4xf32> {llvm.noalias}, %[[IA:.*]]: memref<?x8x8x8xf32>) attributes
// CHECK:   scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) =
// CHECK:     vector.load %[[IA]]
// CHECK:     vector.load %[[IA]]
// CHECK:     vector.load %[[IDH]]
// CHECK:     vector.store %{{.*}}, %[[IA]]
// CHECK:     vector.store %{{.*}}, %[[IA]]
// A 7x9 map leaves its last row and column out of every window: the backward
// kernel zeroes the whole gradient first, and there is no pair without an
// arg-max.
// CHECK: func.func @locus_relu_max_pool_16x7x9_k2x2(%{{.*}}: memref<?x16x7x9xf32> {llvm.noalias}, %{{.*}}: memref<?x16x3x4xf32> {llvm.noalias}, %{{.*}}: memref<?x16x3x4xi32> {llvm.noalias})
// CHECK: func.func @locus_relu_max_unpool_16x7x9_k2x2(
// CHECK:   linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : memref<?x16x7x9xf32>)
// CHECK-NOT: func.func @locus_relu_max
// CHECK-NOT: func.func @locus_relu_{{.*}}16x7x9
// CHECK-LABEL: func.func @epilogues

// Lowered, each memref's aligned pointer (the second of its descriptor) keeps
// llvm.noalias, and the vector code stays vector code.
// LOWERED: llvm.func @locus_relu_max_pool_8x8x8_k2x2(%{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr {llvm.noalias}, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: i64, %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr {llvm.noalias},
// LOWERED:   llvm.load %{{.*}} : !llvm.ptr -> vector<8xf32>
// LOWERED:   llvm.shufflevector %{{.*}} [0, 2, 4, 6] : vector<8xf32>
// LOWERED: llvm.func @_mlir_ciface_locus_relu_max_pool_8x8x8_k2x2(

module {
  module @locus_kernels attributes {locus.kernels} {
  }
  func.func @epilogues(%a: tensor<2x16x7x9xf32>, %b: tensor<2x8x8x8xf32>, %c: tensor<2x8x9x9xf32>) -> (tensor<2x16x3x4xf32>, tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) {
    %0 = locus.relu_max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<2x16x7x9xf32> -> tensor<2x16x3x4xf32>
    %1 = locus.relu_max_pool2d %b {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<2x8x8x8xf32> -> tensor<2x8x4x4xf32>
    %2 = locus.relu_max_pool2d %b {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<2x8x8x8xf32> -> tensor<2x8x4x4xf32>
    %3 = locus.relu_max_pool2d %c {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<2x8x9x9xf32> -> tensor<2x8x4x4xf32>
    return %0, %1, %2, %3 : tensor<2x16x3x4xf32>, tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>
  }
}
