// locus-generate-goodness-input-kernels: FF's hybrid negatives and the FF and
// SCFF block inputs, dynamic shapes, in every model's @locus_kernels.
// RUN: locus-opt %s --locus-generate-update-kernels --locus-generate-goodness-input-kernels | FileCheck %s
// RUN: not locus-opt %s --locus-generate-goodness-input-kernels 2>&1 | FileCheck %s --check-prefix=NOMODULE

// Hybrids, one row each in parallel: the view is copied, its mask blurred
// six times (left/right into the scratch, the first channel of the row's
// hybrid in the output, then up/down back), the hybrid picks the view where
// the mask exceeds 1/2, else its partner's row.
// CHECK: func.func @locus_hybrid_negatives(%[[V:.*]]: memref<?x?x?xf32>, %[[M:.*]]: memref<?x?x?xf32>, %[[P:.*]]: memref<?xi32>, %[[O:.*]]: memref<?x?x?xf32>) attributes {llvm.emit_c_interface}
// CHECK-NOT: memref.alloca
// CHECK:   scf.parallel (%[[R:.*]]) =
// CHECK:     %[[HYB:.*]] = arith.addi %{{.*}}, %[[R]] : index
// CHECK:       memref.store %{{.*}}, %[[O]][%[[R]],
// CHECK:     %[[SIX:.*]] = arith.constant 6 : index
// CHECK:     scf.for %{{.*}} = %{{.*}} to %[[SIX]]
// CHECK:           arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:           memref.store %{{.*}}, %[[O]][%[[HYB]], %{{.*}}, %{{.*}}]
// CHECK:           memref.load %[[O]][%[[HYB]], %{{.*}}, %{{.*}}]
// CHECK:           memref.store %{{.*}}, %[[M]]
// CHECK:     memref.load %[[P]]
// CHECK:           %[[MASK:.*]] = memref.load %[[M]]
// CHECK:           %[[KEEP:.*]] = arith.cmpf ogt, %[[MASK]], %{{.*}} : f32
// CHECK:           arith.select %[[KEEP]]
// CHECK:           memref.store %{{.*}}, %[[O]]

// FF: rows over their float64 norm + 1e-5.
// CHECK: func.func @locus_length_normalize_rows(%[[LX:.*]]: memref<?x?xf32>, %[[LY:.*]]: memref<?x?xf32>)
// CHECK:     %[[SQ:.*]] = scf.for {{.*}} -> (f64)
// CHECK:     %[[ROOT:.*]] = math.sqrt %[[SQ]] : f64
// CHECK:     arith.addf %[[ROOT]], %{{.*}} : f64
// CHECK:       memref.store %{{.*}}, %[[LY]]

// SCFF: standardised rows, then [s + s; s + roll(s)].
// CHECK: func.func @locus_standardize_pairs(%[[SX:.*]]: memref<?x?xf32>, %[[ST:.*]]: memref<?x?xf32>, %[[SY:.*]]: memref<?x?xf32>, %[[PAIRS:.*]]: i1)
// CHECK:     scf.for {{.*}} -> (f64)
// CHECK:     scf.for {{.*}} -> (f64)
// CHECK:     arith.maximumf
// CHECK:       memref.store %{{.*}}, %[[ST]]
// CHECK:     %[[NEXT:.*]] = arith.remui
// CHECK:       %[[S:.*]] = memref.load %[[ST]]
// CHECK:       %[[TWICE:.*]] = arith.addf %[[S]], %[[S]] : f32
// CHECK:       memref.store %[[TWICE]], %[[SY]]
// CHECK:       scf.if %[[PAIRS]] {
// CHECK:         memref.load %[[ST]][%[[NEXT]],

// NOMODULE: error: no @locus_kernels module (run locus-generate-update-kernels first)
module {
  func.func @net() {
    return
  }
}
