// locus-generate-update-kernels: the optimizer updates as linalg kernels in a
// nested @locus_kernels module; the network beside it is left alone.
// RUN: locus-opt %s --locus-generate-update-kernels | FileCheck %s
// RUN: not locus-opt %s --locus-generate-update-kernels --locus-generate-update-kernels 2>&1 | FileCheck %s --check-prefix=TWICE

// CHECK-DAG: #[[ID:.*]] = affine_map<(d0) -> (d0)>
// CHECK-DAG: #[[SCALAR:.*]] = affine_map<(d0) -> ()>
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

// LARS norms: a float64 reduction into two 0-d memrefs.
// CHECK: func.func @locus_lars_norms(%{{.*}}: memref<?xf32>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<f64>, %{{.*}}: memref<f64>, %{{.*}}: f64)
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ID]], #[[SCALAR]], #[[SCALAR]]], iterator_types = ["reduction"]}
// CHECK:   arith.extf %{{.*}} : f32 to f64
// CHECK:   linalg.yield %{{.*}}, %{{.*}} : f64, f64

// TWICE: error: the module already holds @locus_kernels
module {
  func.func @net(%x: tensor<8x1x8x8xf32>) -> tensor<8x1x8x8xf32> {
    return %x : tensor<8x1x8x8xf32>
  }
}
