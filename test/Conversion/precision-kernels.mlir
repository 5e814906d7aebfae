// locus-generate-precision-kernels: float32 <-> bfloat16 (as i16 bits) on
// flat buffers, in every model's @locus_kernels (--precision bf16 runs the
// GPU's convolutions on bfloat16 copies).
// RUN: locus-opt %s --locus-generate-update-kernels --locus-generate-precision-kernels | FileCheck %s
// RUN: not locus-opt %s --locus-generate-precision-kernels 2>&1 | FileCheck %s --check-prefix=NOMODULE

// Round to nearest, ties to even: add 0x7FFF plus the kept half's lowest
// bit, keep the high half; a NaN keeps its high half with the quiet bit set.
// CHECK: func.func @locus_f32_to_bf16(%[[X:.*]]: memref<?xf32>, %[[OUT:.*]]: memref<?xi16>) attributes {llvm.emit_c_interface}
// CHECK:   scf.parallel (%[[I:.*]]) = (%{{.*}}) to (%{{.*}}) step
// CHECK:     %[[V:.*]] = memref.load %[[X]][%[[I]]]
// CHECK:     %[[BITS:.*]] = arith.bitcast %[[V]] : f32 to i32
// CHECK:     %[[HIGH:.*]] = arith.shrui %[[BITS]], %{{.*}} : i32
// CHECK:     %[[ODD:.*]] = arith.andi %[[HIGH]], %{{.*}} : i32
// CHECK:     %[[BIAS:.*]] = arith.addi %[[ODD]], %{{.*}} : i32
// CHECK:     %[[SUM:.*]] = arith.addi %[[BITS]], %[[BIAS]] : i32
// CHECK:     %[[ROUNDED:.*]] = arith.shrui %[[SUM]], %{{.*}} : i32
// CHECK:     %[[QUIET:.*]] = arith.ori %[[HIGH]], %{{.*}} : i32
// CHECK:     %[[NAN:.*]] = arith.cmpf uno, %[[V]], %[[V]] : f32
// CHECK:     %[[R:.*]] = arith.select %[[NAN]], %[[QUIET]], %[[ROUNDED]] : i32
// CHECK:     %[[T:.*]] = arith.trunci %[[R]] : i32 to i16
// CHECK:     memref.store %[[T]], %[[OUT]][%[[I]]]

// Widening is exact: the bits become float32's high half.
// CHECK: func.func @locus_bf16_to_f32(%[[IN:.*]]: memref<?xi16>, %[[Y:.*]]: memref<?xf32>) attributes {llvm.emit_c_interface}
// CHECK:   scf.parallel
// CHECK:     %[[B:.*]] = memref.load %[[IN]]
// CHECK:     %[[W:.*]] = arith.extui %[[B]] : i16 to i32
// CHECK:     %[[S:.*]] = arith.shli %[[W]], %{{.*}} : i32
// CHECK:     %[[F:.*]] = arith.bitcast %[[S]] : i32 to f32
// CHECK:     memref.store %[[F]], %[[Y]]

// Adding: y += the widened bfloat16, in float32.
// CHECK: func.func @locus_bf16_add_to_f32(%[[AIN:.*]]: memref<?xi16>, %[[AY:.*]]: memref<?xf32>) attributes {llvm.emit_c_interface}
// CHECK:   scf.parallel
// CHECK:     arith.bitcast %{{.*}} : i32 to f32
// CHECK:     %[[OLD:.*]] = memref.load %[[AY]]
// CHECK:     %[[SUM:.*]] = arith.addf %[[OLD]], %{{.*}} : f32
// CHECK:     memref.store %[[SUM]], %[[AY]]

// NOMODULE: error: no @locus_kernels module (run locus-generate-update-kernels first)
module {
}
