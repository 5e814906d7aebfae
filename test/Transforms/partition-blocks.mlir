// locus-partition-blocks wraps each learning block into a locus.block.
// RUN: locus-opt %s -split-input-file --locus-partition-blocks | FileCheck %s
// RUN: locus-opt %s -split-input-file --locus-partition-blocks | locus-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @two_blocks
func.func @two_blocks(%x: tensor<8x1x8x8xf32>) -> tensor<8x8x2x2xf32> {
  // CHECK: %[[W1:.*]] = locus.param "w1"
  // CHECK: %[[W2:.*]] = locus.param "w2"
  %w1 = locus.param "w1" {fan_in = 9 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x1x3x3xf32>
  %w2 = locus.param "w2" {fan_in = 36 : i64, init = #locus.init<kaiming_uniform>} : tensor<8x4x3x3xf32>
  // CHECK: %[[H1:.*]] = locus.block "b1"(%arg0) : tensor<8x1x8x8xf32> -> tensor<8x4x4x4xf32> {
  // CHECK-NEXT: ^bb0(%[[IN1:.*]]: tensor<8x1x8x8xf32>):
  // CHECK-NEXT:   %[[C1:.*]] = locus.conv2d %[[IN1]], %[[W1]]
  // CHECK-NEXT:   %[[R1:.*]] = locus.relu %[[C1]]
  // CHECK-NEXT:   %[[P1:.*]] = locus.max_pool2d %[[R1]]
  // CHECK-NEXT:   %[[L1:.*]] = locus.local_loss "b1" %[[P1]]
  // CHECK-NEXT:   locus.yield %[[L1]] : tensor<8x4x4x4xf32>
  // CHECK-NEXT: }
  %c1 = locus.conv2d %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<8x4x8x8xf32>
  %r1 = locus.relu %c1 : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %p1 = locus.max_pool2d %r1 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
  %h1 = locus.local_loss "b1" %p1 {loss = #locus.loss<rule = "clapp++", pool = 2>} : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  // CHECK: %[[H2:.*]] = locus.block "b2"(%[[H1]]) : tensor<8x4x4x4xf32> -> tensor<8x8x2x2xf32> {
  // CHECK-NEXT: ^bb0(%[[IN2:.*]]: tensor<8x4x4x4xf32>):
  // CHECK-NEXT:   locus.conv2d %[[IN2]], %[[W2]]
  // CHECK:        locus.local_loss "b2"
  // CHECK:      return %[[H2]]
  %c2 = locus.conv2d %h1, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x4x4x4xf32>, tensor<8x4x3x3xf32>) -> tensor<8x8x4x4xf32>
  %r2 = locus.relu %c2 : tensor<8x8x4x4xf32> -> tensor<8x8x4x4xf32>
  %p2 = locus.max_pool2d %r2 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x8x4x4xf32> -> tensor<8x8x2x2xf32>
  %h2 = locus.local_loss "b2" %p2 {loss = #locus.loss<rule = "clapp++dfb", context = top, pool = 1>} : tensor<8x8x2x2xf32> -> tensor<8x8x2x2xf32>
  return %h2 : tensor<8x8x2x2xf32>
}
