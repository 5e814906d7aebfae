// locus-generate-activation-kernels: relu and triangle with their vjps, four
// kernels with dynamic shapes in every model's @locus_kernels.
// RUN: locus-opt %s --locus-generate-update-kernels --locus-generate-activation-kernels | FileCheck %s
// RUN: not locus-opt %s --locus-generate-activation-kernels 2>&1 | FileCheck %s --check-prefix=NOMODULE

// CHECK: func.func @locus_relu_forward(%[[X:.*]]: memref<?xf32>, %[[Y:.*]]: memref<?xf32>) attributes {llvm.emit_c_interface}
// CHECK:   scf.parallel (%[[I:.*]]) = (%{{.*}}) to (%{{.*}}) step
// CHECK:     %[[V:.*]] = memref.load %[[X]][%[[I]]]
// CHECK:     %[[POS:.*]] = arith.cmpf ogt, %[[V]], %{{.*}} : f32
// CHECK:     %[[R:.*]] = arith.select %[[POS]], %[[V]], %{{.*}} : f32
// CHECK:     memref.store %[[R]], %[[Y]][%[[I]]]

// The vjp reads the output: relu'(0) = 0.
// CHECK: func.func @locus_relu_backward(%[[RY:.*]]: memref<?xf32>, %[[RDY:.*]]: memref<?xf32>, %[[RDX:.*]]: memref<?xf32>)
// CHECK:     %[[OUT:.*]] = memref.load %[[RY]]
// CHECK:     %[[G:.*]] = memref.load %[[RDY]]
// CHECK:     %[[ON:.*]] = arith.cmpf ogt, %[[OUT]], %{{.*}} : f32
// CHECK:     arith.select %[[ON]], %[[G]], %{{.*}} : f32
// CHECK:     memref.store %{{.*}}, %[[RDX]]

// Triangle: every (sample, location) in parallel: its float32 channel mean
// (a sum in channel order), then relu(x - mean) over the channels.
// CHECK: func.func @locus_triangle_forward(%[[TX:.*]]: memref<?x?x?xf32>, %[[TY:.*]]: memref<?x?x?xf32>)
// CHECK:   %[[INV:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK:   scf.parallel (%[[S:.*]], %[[Q:.*]]) =
// CHECK:     %[[SUM:.*]] = scf.for
// CHECK:       memref.load %[[TX]][%[[S]], %{{.*}}, %[[Q]]]
// CHECK:       arith.addf
// CHECK:     %[[MEAN:.*]] = arith.mulf %[[SUM]], %[[INV]] : f32
// CHECK:     scf.for
// CHECK:       %[[C:.*]] = arith.subf %{{.*}}, %[[MEAN]]
// CHECK:       arith.cmpf ogt, %[[C]]
// CHECK:       memref.store %{{.*}}, %[[TY]]

// Its vjp: t = dy where x - mean > 0 (written into dx and summed), then
// dx = t - mean_c t.
// CHECK: func.func @locus_triangle_backward(%[[BX:.*]]: memref<?x?x?xf32>, %[[BDY:.*]]: memref<?x?x?xf32>, %[[BDX:.*]]: memref<?x?x?xf32>)
// CHECK:   scf.parallel
// CHECK:     scf.for
// CHECK:     %[[TSUM:.*]] = scf.for
// CHECK:       memref.load %[[BDY]]
// CHECK:       memref.store %{{.*}}, %[[BDX]]
// CHECK:       arith.addf
// CHECK:     %[[TMEAN:.*]] = arith.mulf %[[TSUM]]
// CHECK:     scf.for
// CHECK:       %[[T:.*]] = memref.load %[[BDX]]
// CHECK:       %[[D:.*]] = arith.subf %[[T]], %[[TMEAN]] : f32
// CHECK:       memref.store %[[D]], %[[BDX]]

// NOMODULE: error: no @locus_kernels module (run locus-generate-update-kernels first)
module {
  func.func @net() {
    return
  }
}
