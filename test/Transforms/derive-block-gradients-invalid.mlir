// locus-derive-block-gradients refuses what it cannot differentiate.
// RUN: locus-opt %s -split-input-file --locus-partition-blocks --locus-expand-rules --locus-derive-block-gradients -verify-diagnostics
// RUN: not locus-opt %s -split-input-file --locus-partition-blocks --locus-expand-rules --locus-derive-block-gradients --locus-derive-block-gradients 2>&1 | FileCheck %s --check-prefix=TWICE

// TWICE: error: 'locus.block' op block 'b1' already has its gradients

func.func @standardized(%x: tensor<8x1x8x8xf32>) -> tensor<8x4x8x8xf32> {
  %w = locus.param "w" {fan_in = 9 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x1x3x3xf32>
  // expected-error @+1 {{'locus.standardize' op has no gradient in locus yet, so block 'b1' cannot be trained through it}}
  %s = locus.standardize %x : tensor<8x1x8x8xf32> -> tensor<8x1x8x8xf32>
  %c = locus.conv2d %s, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<8x4x8x8xf32>
  %h = locus.local_loss "b1" %c {loss = #locus.loss<pool = 2>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  return %h : tensor<8x4x8x8xf32>
}

// -----

func.func @twice(%x: tensor<8x4x8x8xf32>) -> tensor<8x4x8x8xf32> {
  %r = locus.relu %x : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %h = locus.local_loss "b1" %r {loss = #locus.loss<pool = 2>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  return %h : tensor<8x4x8x8xf32>
}
