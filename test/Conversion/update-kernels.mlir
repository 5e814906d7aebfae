// locus-generate-update-kernels: the optimizer updates as linalg kernels in a
// nested @locus_kernels module; the network beside it is left alone.
// RUN: locus-opt %s --locus-generate-update-kernels | FileCheck %s
// RUN: not locus-opt %s --locus-generate-update-kernels --locus-generate-update-kernels 2>&1 | FileCheck %s --check-prefix=TWICE

// CHECK-DAG: #[[ID:.*]] = affine_map<(d0) -> (d0)>
// CHECK: func.func @net
// CHECK: module @locus_kernels attributes {locus.kernels} {

// AdamW: g is read, p, m and v are updated in one element loop.
// CHECK: func.func @locus_adamw_update(%[[G:.*]]: memref<?xf32>, %[[P:.*]]: memref<?xf32>, %[[M:.*]]: memref<?xf32>, %[[V:.*]]: memref<?xf32>, %[[DECAY:.*]]: f32, %[[W1:.*]]: f32, %[[B1:.*]]: f32, %[[B2:.*]]: f32, %[[C2:.*]]: f32, %[[NEGSTEP:.*]]: f32, %[[BC2:.*]]: f32, %[[EPS:.*]]: f32) attributes {llvm.emit_c_interface}
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ID]], #[[ID]], #[[ID]]], iterator_types = ["parallel"]} ins(%[[G]] : memref<?xf32>) outs(%[[P]], %[[M]], %[[V]] :
// CHECK: ^bb0(%[[g:.*]]: f32, %[[p:.*]]: f32, %[[m:.*]]: f32, %[[v:.*]]: f32):
// CHECK:   %[[PD:.*]] = arith.mulf %[[p]], %[[DECAY]]
// torch's lerp picks one of two formulas by |w1| < 0.5.
// CHECK:   %[[DIFF:.*]] = arith.subf %[[g]], %[[m]]
// CHECK:   %[[W1DIFF:.*]] = arith.mulf %[[W1]], %[[DIFF]]
// CHECK:   %[[LOW:.*]] = arith.addf %[[m]], %[[W1DIFF]]
// CHECK:   %[[ABS:.*]] = math.absf %[[W1]]
// CHECK:   %[[ISLOW:.*]] = arith.cmpf olt, %[[ABS]]
// CHECK:   %[[MNEW:.*]] = arith.select %[[ISLOW]], %[[LOW]], %{{.*}}
// CHECK:   %[[VNEW:.*]] = arith.addf
// CHECK:   %[[ROOT:.*]] = math.sqrt %[[VNEW]]
// CHECK:   %[[SCALED:.*]] = arith.divf %[[ROOT]], %[[BC2]]
// CHECK:   %[[DENOM:.*]] = arith.addf %[[SCALED]], %[[EPS]]
// CHECK:   %[[RATIO:.*]] = arith.divf %[[MNEW]], %[[DENOM]]
// CHECK:   %[[STEP:.*]] = arith.mulf %[[NEGSTEP]], %[[RATIO]]
// CHECK:   %[[PNEW:.*]] = arith.addf %[[PD]], %[[STEP]]
// CHECK:   linalg.yield %[[PNEW]], %[[MNEW]], %[[VNEW]] : f32, f32, f32

// AdamW with bfloat16 moments (i16 bit patterns): widened, the same update,
// stored back with stochastic rounding from a hash of the key and the
// element's index (low half for m, high half for v).
// CHECK: func.func @locus_adamw_bf16_update(%{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xi16>, %{{.*}}: memref<?xi16>, {{.*}}, %[[KEY:.*]]: i32, %[[BASE:.*]]: i64) attributes {llvm.emit_c_interface}
// CHECK: ^bb0(%[[bg:.*]]: f32, %[[bp:.*]]: f32, %[[bm:.*]]: i16, %[[bv:.*]]: i16):
// CHECK:   %[[MW:.*]] = arith.extui %[[bm]] : i16 to i32
// CHECK:   %[[MS:.*]] = arith.shli %[[MW]], %{{.*}} : i32
// CHECK:   %[[M0:.*]] = arith.bitcast %[[MS]] : i32 to f32
// CHECK:   arith.extui %[[bv]] : i16 to i32
// CHECK:   %[[BMNEW:.*]] = arith.select
// CHECK:   %[[BVNEW:.*]] = arith.addf
// CHECK:   math.sqrt %[[BVNEW]]
// CHECK:   %[[STEP:.*]] = arith.divf %[[BMNEW]], %{{.*}} : f32
// CHECK:   %[[SCALED:.*]] = arith.mulf %{{.*}}, %[[STEP]] : f32
// CHECK:   %[[BPNEW:.*]] = arith.addf %{{.*}}, %[[SCALED]] : f32
// CHECK:   %[[I:.*]] = linalg.index 0 : index
// CHECK:   %[[I64:.*]] = arith.index_castui %[[I]] : index to i64
// CHECK:   %[[G:.*]] = arith.addi %[[BASE]], %[[I64]] : i64
// CHECK:   %[[G32:.*]] = arith.trunci %[[G]] : i64 to i32
// CHECK:   arith.xori %[[G32]], %[[KEY]] : i32
// CHECK:   arith.muli %{{.*}}, %{{.*}} : i32
// CHECK:   arith.muli %{{.*}}, %{{.*}} : i32
// CHECK:   %[[MBITS:.*]] = arith.bitcast %[[BMNEW]] : f32 to i32
// CHECK:   %[[MSUM:.*]] = arith.addi %[[MBITS]], %{{.*}} : i32
// CHECK:   %[[MHI:.*]] = arith.shrui %[[MSUM]], %{{.*}} : i32
// CHECK:   %[[M16:.*]] = arith.trunci %[[MHI]] : i32 to i16
// CHECK:   %[[VBITS:.*]] = arith.bitcast %[[BVNEW]] : f32 to i32
// CHECK:   %[[V16:.*]] = arith.trunci %{{.*}} : i32 to i16
// CHECK:   linalg.yield %[[BPNEW]], %[[M16]], %[[V16]] : f32, i16, i16

// SGD with momentum: g' = (g + wd p) scale; buf = mu buf + g'; p -= lr buf.
// CHECK: func.func @locus_sgd_update(%{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %[[WD:.*]]: f32, %[[SCALE:.*]]: f32, %[[MU:.*]]: f32, %[[LR:.*]]: f32)
// CHECK: ^bb0(%[[sg:.*]]: f32, %[[sp:.*]]: f32, %[[sb:.*]]: f32):
// CHECK:   %[[WDP:.*]] = arith.mulf %[[WD]], %[[sp]]
// CHECK:   %[[GWD:.*]] = arith.addf %[[sg]], %[[WDP]]
// CHECK:   %[[GS:.*]] = arith.mulf %[[GWD]], %[[SCALE]]
// CHECK:   %[[MB:.*]] = arith.mulf %[[MU]], %[[sb]]
// CHECK:   %[[BNEW:.*]] = arith.addf %[[MB]], %[[GS]]
// CHECK:   %[[LB:.*]] = arith.mulf %[[LR]], %[[BNEW]]
// CHECK:   %[[SPNEW:.*]] = arith.subf %[[sp]], %[[LB]]
// CHECK:   linalg.yield %[[SPNEW]], %[[BNEW]] : f32, f32

// LARS norms: float64 terms added atomically into two 0-d memrefs, the
// elements parallel iterations.
// CHECK: func.func @locus_lars_norms(%{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %[[PP:.*]]: memref<f64>, %[[GG:.*]]: memref<f64>, %{{.*}}: f64)
// CHECK:   scf.parallel
// CHECK:     arith.extf %{{.*}} : f32 to f64
// CHECK:     memref.atomic_rmw addf %{{.*}}, %[[PP]][] : (f64, memref<f64>) -> f64
// CHECK:     memref.atomic_rmw addf %{{.*}}, %[[GG]][] : (f64, memref<f64>) -> f64

// TWICE: error: the module already holds @locus_kernels
module {
  func.func @net(%x: tensor<8x1x8x8xf32>) -> tensor<8x1x8x8xf32> {
    return %x : tensor<8x1x8x8xf32>
  }
}
