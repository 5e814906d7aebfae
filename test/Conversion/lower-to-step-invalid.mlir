// RUN: locus-opt %s --split-input-file --verify-diagnostics --locus-lower-to-step
//
// A model no step program can train (a bilinear rule above FF: the blocks
// would disagree on their rows) is an error naming it, and so is a module
// without @locus_kernels.

module {
  module @locus_kernels attributes {locus.kernels} {
  }
  // expected-error @below {{cannot be trained by a step program: blocks with different goodness rules (ff, clapp++)}}
  func.func @net(%arg0: tensor<4x2x8x8xf32>) -> tensor<4x4x8x8xf32> {
    %w = locus.param "conv_w" {fan_in = 18 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x2x3x3xf32>
    %w2 = locus.param "conv2_w" {fan_in = 36 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x4x3x3xf32>
    %B = locus.param "block2.B" {fan_in = 4 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x4xf32>
    %h = locus.block "block1"(%arg0) : tensor<4x2x8x8xf32> -> tensor<4x4x8x8xf32> {
    ^bb0(%x: tensor<4x2x8x8xf32>):
      %c = locus.conv2d %x, %w {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<4x2x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<4x4x8x8xf32>
      %m = locus.local_loss "block1" %c {loss = #locus.loss<rule = "ff", score = sum_squares, f = softplus, form = contrastive, projection = identity, context = same, pool = none, negatives = hybrid, theta = 2.0, mode = local>} : tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32>
      %L = locus.goodness_loss %m {loss = #locus.loss<rule = "ff", score = sum_squares, f = softplus, form = contrastive, projection = identity, context = same, pool = none, negatives = hybrid, theta = 2.0, mode = local>} : tensor<4x4x8x8xf32> -> tensor<f32>
      %dh = locus.loss_grad %L : tensor<f32> -> tensor<4x4x8x8xf32>
      %g = locus.param_vjp %c, %dh : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x2x3x3xf32>
      locus.update %w, %g : tensor<4x2x3x3xf32>
      locus.yield %m : tensor<4x4x8x8xf32>
    }
    %h2 = locus.block "block2"(%h) : tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32> {
    ^bb0(%x: tensor<4x4x8x8xf32>):
      %c = locus.conv2d %x, %w2 {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<4x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<4x4x8x8xf32>
      %m = locus.local_loss "block2" %c {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = global, negatives = next, mode = local>} : tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32>
      %z = locus.loss_pool %m {kernel = 0 : i64} : tensor<4x4x8x8xf32> -> tensor<4x4xf32>
      %L = locus.bilinear_loss %z, %z, %B {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = global, negatives = next, mode = local>} : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32> -> tensor<f32>
      %dh = locus.loss_grad %L : tensor<f32> -> tensor<4x4x8x8xf32>
      %g = locus.param_vjp %c, %dh : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x4x3x3xf32>
      locus.update %w2, %g : tensor<4x4x3x3xf32>
      locus.yield %m : tensor<4x4x8x8xf32>
    }
    return %h2 : tensor<4x4x8x8xf32>
  }
}

// -----

// expected-error @below {{no @locus_kernels module (run locus-generate-update-kernels first)}}
module {
  func.func @net(%arg0: tensor<4x2x8x8xf32>) -> tensor<4x2x8x8xf32> {
    return %arg0 : tensor<4x2x8x8xf32>
  }
}
