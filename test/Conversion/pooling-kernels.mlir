// locus-generate-pooling-kernels: max and average pooling with their vjps,
// dynamic shapes and the window as arguments, on planes [N C, H, W].
// RUN: locus-opt %s --locus-generate-update-kernels --locus-generate-pooling-kernels | FileCheck %s
// RUN: not locus-opt %s --locus-generate-pooling-kernels 2>&1 | FileCheck %s --check-prefix=NOMODULE

// Max: window rows and columns clamped to the map (padding is -inf), NaN
// wins, the first maximum stays; the flat index plus `base` is the arg-max.
// CHECK: func.func @locus_max_pool_forward(%[[X:.*]]: memref<?x?x?xf32>, %[[Y:.*]]: memref<?x?x?xf32>, %[[AM:.*]]: memref<?x?x?xi32>, %[[KH:[a-z0-9_]+]]: index, %[[KW:[a-z0-9_]+]]: index, %[[SH:[a-z0-9_]+]]: index, %[[SW:[a-z0-9_]+]]: index, %[[PT:[a-z0-9_]+]]: index, %[[PL:[a-z0-9_]+]]: index, %[[BASE:[a-z0-9_]+]]: i64, %[[RELU:[a-z0-9_]+]]: i1) attributes {llvm.emit_c_interface}
// CHECK:       %[[START:.*]] = arith.subi %{{.*}}, %[[PT]] : index
// CHECK:       arith.maxsi %[[START]], %{{.*}} : index
// CHECK:       arith.minsi
// CHECK:             %[[V:.*]] = memref.load %[[X]]
// CHECK:             %[[GT:.*]] = arith.cmpf ogt, %[[V]], %{{.*}} : f32
// CHECK:             %[[NAN:.*]] = arith.cmpf uno, %[[V]], %[[V]] : f32
// CHECK:             arith.ori %[[GT]], %[[NAN]] : i1
// CHECK:         arith.select %[[RELU]], %{{.*}}, %{{.*}} : f32
// CHECK:         memref.store %{{.*}}, %[[Y]]
// CHECK:         %[[G:.*]] = arith.addi %[[BASE]], %{{.*}} : i64
// CHECK:         %[[G32:.*]] = arith.trunci %[[G]] : i64 to i32
// CHECK:         memref.store %[[G32]], %[[AM]]

// Its vjp scatters dy to the arg-max of each window (only where h > 0 with relu).
// CHECK: func.func @locus_max_pool_backward(%[[DY:.*]]: memref<?x?x?xf32>, %[[H:.*]]: memref<?x?x?xf32>, %[[BAM:.*]]: memref<?x?x?xi32>, %[[DX:.*]]: memref<?x?x?xf32>, %[[BBASE:.*]]: i64, %[[BRELU:.*]]: i1)
// CHECK:   linalg.fill ins(%{{.*}} : f32) outs(%[[DX]] : memref<?x?x?xf32>)
// CHECK:         %[[SKIP:.*]] = arith.andi %[[BRELU]], %{{.*}} : i1
// CHECK:         memref.load %[[BAM]]
// CHECK:         arith.subi %{{.*}}, %[[BBASE]] : i64
// CHECK:         %[[SUM:.*]] = arith.addf
// CHECK:         %[[NEXT:.*]] = arith.select %[[SKIP]], %{{.*}}, %[[SUM]] : f32
// CHECK:         memref.store %[[NEXT]], %[[DX]]

// Average: column sums over the window's rows, then across the columns, / (kh kw).
// CHECK: func.func @locus_avg_pool_forward(%[[AX:.*]]: memref<?x?x?xf32>, %[[AY:.*]]: memref<?x?x?xf32>,
// CHECK:   %[[SCALE:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK:         %[[COLS:.*]] = scf.for {{.*}} -> (f32) {
// CHECK:           scf.for {{.*}} -> (f32) {
// CHECK:         %[[MEAN:.*]] = arith.mulf %[[COLS]], %[[SCALE]] : f32
// CHECK:         memref.store %[[MEAN]], %[[AY]]

// Its vjp spreads dy / (kh kw) over each window; with relu, zero where y <= 0.
// CHECK: func.func @locus_avg_pool_backward(%{{.*}}: memref<?x?x?xf32>, %[[RY:.*]]: memref<?x?x?xf32>, %[[ADX:.*]]: memref<?x?x?xf32>, {{.*}}, %[[ARELU:[a-z0-9_]+]]: i1)
// CHECK:   linalg.fill ins(%{{.*}} : f32) outs(%[[ADX]] : memref<?x?x?xf32>)
// CHECK:             arith.addf
// CHECK:             memref.store %{{.*}}, %[[ADX]]
// CHECK:   scf.if %[[ARELU]] {
// CHECK:           memref.load %[[RY]]
// CHECK:           arith.cmpf ogt

// NOMODULE: error: no @locus_kernels module (run locus-generate-update-kernels first)
module {
  func.func @net() {
    return
  }
}
