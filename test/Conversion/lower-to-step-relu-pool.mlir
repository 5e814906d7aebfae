// RUN: locus-opt %s --locus-generate-loss-kernels --locus-lower-to-step | FileCheck %s
//
// locus-lower-to-step on a relu + max-pool after a conv, in local mode, with
// 2x2 windows that cover the 8x8 map: no arg-max buffer. The forward writes h
// alone; the adjoint reads the maxima again from the conv output and writes
// dL/da over it, and the conv's weight gradient reads dL/da from there.
// (Global mode keeps the arg-max: the conv output would have to outlive the
// other blocks; test/Unit's TrainEngine tests run both.)

// CHECK-LABEL: func.func @locus_train_fused_step(
// CHECK-NOT: x4x4xi32>
// CHECK: %[[CONV:.*]] = memref.alloc() : memref<4x4x8x8xf32>
// CHECK: call @locus_rt_conv2d_forward(
// CHECK: %[[A:.*]] = memref.cast %[[CONV]] :
// CHECK: call @locus_rt_relu_max_pool_forward_unindexed(%{{.*}}, %[[A]], %{{.*}}, %c2_i64, %c2_i64
// CHECK-NOT: x4x4xi32>
// CHECK: %[[DA:.*]] = memref.cast %[[CONV]] :
// CHECK: call @locus_rt_relu_max_pool_backward_in_place(%{{.*}}, %{{.*}}, %[[DA]], %c2_i64
// CHECK-NOT: memref.alloc() : memref<4x4x8x8xf32>
// CHECK: %[[DY:.*]] = memref.cast %[[CONV]] :
// CHECK: call @locus_rt_conv2d_backward_weight(%{{.*}}, %{{.*}}, %[[DY]],
// CHECK-LABEL: func.func @locus_evaluate_step(
// CHECK-NOT: x4x4xi32>
// CHECK: call @locus_rt_relu_max_pool_forward_unindexed(
// CHECK-NOT: call @locus_rt_relu_max_pool_backward

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
      %p = locus.relu_max_pool2d %c {kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : tensor<4x4x8x8xf32> -> tensor<4x4x4x4xf32>
      %m = locus.local_loss "block1" %p {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = random, mode = local>} : tensor<4x4x4x4xf32> -> tensor<4x4x4x4xf32>
      %z = locus.loss_pool %m {kernel = 2 : i64} : tensor<4x4x4x4xf32> -> tensor<4x16xf32>
      %L = locus.bilinear_loss %z, %z, %B {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = random, mode = local>} : tensor<4x16xf32>, tensor<4x16xf32>, tensor<16x16xf32> -> tensor<f32>
      %dh = locus.loss_grad %L : tensor<f32> -> tensor<4x4x4x4xf32>
      %dc = locus.vjp %p, %dh : tensor<4x4x4x4xf32>, tensor<4x4x4x4xf32> -> tensor<4x4x8x8xf32>
      %g:2 = locus.param_vjp %c, %dc : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x2x3x3xf32>, tensor<4xf32>
      locus.update %w, %g#0 : tensor<4x2x3x3xf32>
      locus.update %b, %g#1 : tensor<4xf32>
      locus.yield %m : tensor<4x4x4x4xf32>
    }
    return %h : tensor<4x4x4x4xf32>
  }
}
