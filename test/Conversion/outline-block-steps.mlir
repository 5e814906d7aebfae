// RUN: locus-opt %s --locus-generate-loss-kernels --locus-lower-to-step --locus-plan-arena --locus-outline-block-steps | FileCheck %s
//
// After planning, each block region becomes a function of (ctx, views,
// arena) that rebuilds the views of the buffers it shares with other blocks
// (here the block output at 4096 and the loss slots at 10240) from its own
// arena argument; the entry point calls it in the region's place and hands
// the slots to the runtime after it.

// CHECK-LABEL: func.func private @locus_train_fused_step_block0(
// CHECK-SAME: %[[CTX:[a-z0-9]+]]: !llvm.ptr, %{{[a-z0-9]+}}: memref<4x2x8x8xf32>, %[[ARENA:[a-z0-9]+]]: memref<?xi8>)
// CHECK-SAME: locus.block = "block1", locus.block_step = 0 : i32
// CHECK-DAG: %[[OFF:.*]] = arith.constant 4096 : index
// CHECK-DAG: %[[SLOTS:.*]] = arith.constant 10240 : index
// CHECK-DAG: memref.view %[[ARENA]][%[[OFF]]][] : memref<?xi8> to memref<4x4x4x4xf32>
// CHECK-DAG: memref.view %[[ARENA]][%[[SLOTS]]][] : memref<?xi8> to memref<1xf64>
// CHECK: call @locus_rt_conv2d_forward(%[[CTX]],
// CHECK: return
// CHECK-LABEL: func.func @locus_train_fused_step(
// CHECK-NOT: scf.execute_region
// CHECK: call @locus_train_fused_step_block0(%arg0, %arg1, %arg2)
// CHECK: call @locus_rt_add_losses(
// CHECK-NEXT: return
// CHECK-LABEL: func.func private @locus_train_step_block0(
// CHECK-LABEL: func.func private @locus_evaluate_step_block0(

module {
  module @locus_kernels attributes {locus.kernels} {
  }
  func.func @net(%arg0: tensor<4x2x8x8xf32>) -> tensor<4x4x4x4xf32> {
    %w = locus.param "conv_w" {fan_in = 18 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x2x3x3xf32>
    %b = locus.param "conv_b" {fan_in = 18 : i64, init = #locus.init<fan_in_uniform>} : tensor<4xf32>
    %B = locus.param "block1.B" {fan_in = 16 : i64, init = #locus.init<kaiming_uniform>} : tensor<16x16xf32>
    %h = locus.block "block1"(%arg0) : tensor<4x2x8x8xf32> -> tensor<4x4x4x4xf32> {
    ^bb0(%x: tensor<4x2x8x8xf32>):
      %c = locus.conv2d %x, %w, %b {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<4x2x8x8xf32>, tensor<4x2x3x3xf32>, tensor<4xf32>) -> tensor<4x4x8x8xf32>
      %r = locus.relu %c : tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32>
      %p = locus.max_pool2d %r {kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : tensor<4x4x8x8xf32> -> tensor<4x4x4x4xf32>
      %m = locus.local_loss "block1" %p {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = random, mode = local>} : tensor<4x4x4x4xf32> -> tensor<4x4x4x4xf32>
      %z = locus.loss_pool %m {kernel = 2 : i64} : tensor<4x4x4x4xf32> -> tensor<4x16xf32>
      %L = locus.bilinear_loss %z, %z, %B {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = random, mode = local>} : tensor<4x16xf32>, tensor<4x16xf32>, tensor<16x16xf32> -> tensor<f32>
      %dh = locus.loss_grad %L : tensor<f32> -> tensor<4x4x4x4xf32>
      %dr = locus.vjp %p, %dh : tensor<4x4x4x4xf32>, tensor<4x4x4x4xf32> -> tensor<4x4x8x8xf32>
      %dc = locus.vjp %r, %dr : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32>
      %g:2 = locus.param_vjp %c, %dc : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x2x3x3xf32>, tensor<4xf32>
      locus.update %w, %g#0 : tensor<4x2x3x3xf32>
      locus.update %b, %g#1 : tensor<4xf32>
      locus.yield %m : tensor<4x4x4x4xf32>
    }
    return %h : tensor<4x4x4x4xf32>
  }
}
