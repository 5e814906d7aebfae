// RUN: locus-opt %s --split-input-file --verify-diagnostics --locus-lower-to-step | FileCheck %s
//
// A rule the step program does not cover yet: no entry points, and the
// reason on @locus_kernels for the binary's log (the engine trains it).

// CHECK: module @locus_kernels attributes {locus.kernels, locus.step_program_missing = "global training (bp-clapp++)"}
// CHECK-NEXT: }
module {
  module @locus_kernels attributes {locus.kernels} {
  }
  func.func @net(%arg0: tensor<4x2x8x8xf32>) -> tensor<4x4x8x8xf32> {
    %w = locus.param "conv_w" {fan_in = 18 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x2x3x3xf32>
    %B = locus.param "block1.B" {fan_in = 256 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x4xf32>
    %h = locus.block "block1"(%arg0) : tensor<4x2x8x8xf32> -> tensor<4x4x8x8xf32> {
    ^bb0(%x: tensor<4x2x8x8xf32>):
      %c = locus.conv2d %x, %w {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<4x2x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<4x4x8x8xf32>
      %m = locus.local_loss "block1" %c {loss = #locus.loss<rule = "bp-clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = global, negatives = next, mode = global>} : tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32>
      %z = locus.loss_pool %m {kernel = 0 : i64} : tensor<4x4x8x8xf32> -> tensor<4x4xf32>
      %L = locus.bilinear_loss %z, %z, %B {loss = #locus.loss<rule = "bp-clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = global, negatives = next, mode = global>} : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32> -> tensor<f32>
      %dh = locus.loss_grad %L : tensor<f32> -> tensor<4x4x8x8xf32>
      %g = locus.param_vjp %c, %dh : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x2x3x3xf32>
      locus.update %w, %g : tensor<4x2x3x3xf32>
      locus.yield %m : tensor<4x4x8x8xf32>
    }
    return %h : tensor<4x4x8x8xf32>
  }
}

// -----

// expected-error @below {{no @locus_kernels module (run locus-generate-update-kernels first)}}
module {
  func.func @net(%arg0: tensor<4x2x8x8xf32>) -> tensor<4x2x8x8xf32> {
    return %arg0 : tensor<4x2x8x8xf32>
  }
}
