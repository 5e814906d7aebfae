// locus-infer-shapes fails at the op whose operands do not fit.
// RUN: locus-opt %s -split-input-file --locus-infer-shapes -verify-diagnostics

func.func @channels(%x: tensor<8x1x8x8xf32>) -> tensor<*xf32> {
  %w = locus.param "w" {fan_in = 27 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x3x3x3xf32>
  %c = locus.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x1x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<*xf32>
  return %c : tensor<*xf32>
}
// The verifier sees static operands and reports before the pass runs.
// expected-error @-4 {{'locus.conv2d' op weight expects 3 input channels but the input has 1}}

// -----

func.func @dynamic_operand(%x: tensor<?x4x8x8xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{'locus.relu' op operand 0 has no static shape ('tensor<?x4x8x8xf32>')}}
  %r = locus.relu %x : tensor<?x4x8x8xf32> -> tensor<*xf32>
  return %r : tensor<*xf32>
}

// -----

func.func @pool_after_inference(%x: tensor<8x4x8x8xf32>) -> tensor<*xf32> {
  %p = locus.max_pool2d %x {kernel = array<i64: 4, 4>, strides = array<i64: 4, 4>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<*xf32>
  // The marker only learns its 2x2 map from the pass.
  // expected-error @+1 {{'locus.avg_pool2d' op kernel 3 is larger than the padded input height 2}}
  %a = locus.avg_pool2d %p {kernel = array<i64: 3, 3>, strides = array<i64: 3, 3>, pads = array<i64: 0, 0, 0, 0>} : tensor<*xf32> -> tensor<*xf32>
  return %a : tensor<*xf32>
}

// -----

func.func @loss_pool_after_inference(%x: tensor<8x4x8x8xf32>) -> tensor<*xf32> {
  %p = locus.max_pool2d %x {kernel = array<i64: 4, 4>, strides = array<i64: 4, 4>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<*xf32>
  // expected-error @+1 {{'locus.local_loss' op block 'b': loss pooling kernel 4 is larger than the 2x2 feature map of block 'b'}}
  %h = locus.local_loss "b" %p {loss = #locus.loss<pool = 4>} : tensor<*xf32> -> tensor<*xf32>
  return %h : tensor<*xf32>
}

// -----

// An inferred tensor may have at most 2^36 elements (TensorLimits.h): here
// 8 x 4 x 2^28 x 8 from pads the importer lets through (each at most 2^28).
func.func @too_large(%x: tensor<8x2x8x8xf32>) -> tensor<*xf32> {
  %w = locus.param "w" {fan_in = 18 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x2x3x3xf32>
  // expected-error @+1 {{'locus.conv2d' op result 0 would be 'tensor<8x4x536870918x8xf32>': every size positive and at most 68719476736 elements (256 GiB of float32) in all}}
  %c = locus.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 268435456, 1, 268435456, 1>, dilations = array<i64: 1, 1>} : (tensor<8x2x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<*xf32>
  return %c : tensor<*xf32>
}
