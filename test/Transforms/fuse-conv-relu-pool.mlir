// locus-fuse-conv-relu-pool: a block's first conv (3x3, stride 1, padding 1,
// few input channels) and the relu + max-pool 2x2 after it become one
// conv_relu_max_pool2d where no gradient of the block input is needed.
// RUN: locus-opt %s -split-input-file --locus-partition-blocks --locus-fuse-relu-pool --locus-fuse-conv-relu-pool | FileCheck %s
// RUN: locus-opt %s -split-input-file --locus-partition-blocks --locus-fuse-relu-pool --locus-fuse-conv-relu-pool | locus-opt -split-input-file | FileCheck %s
// With a bound of 2 input channels, block b2's conv (4 channels) stays apart.
// RUN: locus-opt %s -split-input-file --locus-partition-blocks --locus-fuse-relu-pool "--locus-fuse-conv-relu-pool=max-input-channels=2" | FileCheck %s --check-prefix=BOUND
// Global mode: b2's input gradient is needed, so only the first block fuses.
// RUN: sed 's/rule = "clapp++"/rule = "bp-clapp++", mode = global/' %s | locus-opt -split-input-file --locus-partition-blocks --locus-fuse-relu-pool --locus-fuse-conv-relu-pool | FileCheck %s --check-prefix=GLOBAL
// The fused op has parameter adjoints only, and gets no data adjoint.
// RUN: locus-opt %s -split-input-file --locus-partition-blocks --locus-fuse-relu-pool --locus-fuse-conv-relu-pool --locus-expand-rules --locus-derive-block-gradients | FileCheck %s --check-prefix=GRAD

// CHECK-LABEL: func.func @two_blocks
// CHECK: locus.block "b1"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[P1:.*]] = locus.conv_relu_max_pool2d %arg{{[0-9]+}}, %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, pool_kernel = array<i64: 2, 2>, pool_pads = array<i64: 0, 0, 0, 0>, pool_strides = array<i64: 2, 2>, strides = array<i64: 1, 1>} : (tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<8x4x4x4xf32>
// CHECK-NEXT: locus.local_loss "b1" %[[P1]]
// CHECK: locus.block "b2"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: locus.conv_relu_max_pool2d %arg{{[0-9]+}}, %{{[^,]*}} {{{.*}}} : (tensor<8x4x4x4xf32>, tensor<6x4x3x3xf32>) -> tensor<8x6x2x2xf32>
// CHECK-NOT: locus.conv2d
// CHECK-NOT: locus.relu_max_pool2d

// BOUND-LABEL: func.func @two_blocks
// BOUND: locus.conv_relu_max_pool2d
// BOUND: locus.block "b2"
// BOUND-NEXT: ^bb0
// BOUND-NEXT: locus.conv2d
// BOUND-NEXT: locus.relu_max_pool2d

// GLOBAL-LABEL: func.func @two_blocks
// GLOBAL: locus.block "b1"
// GLOBAL-NEXT: ^bb0
// GLOBAL-NEXT: locus.conv_relu_max_pool2d
// GLOBAL: locus.block "b2"
// GLOBAL-NEXT: ^bb0
// GLOBAL-NEXT: locus.conv2d
// GLOBAL-NEXT: locus.relu_max_pool2d

// GRAD-LABEL: func.func @two_blocks
// GRAD: %[[Y:.*]] = locus.conv_relu_max_pool2d
// GRAD: %[[G:.*]] = locus.loss_grad
// GRAD-NEXT: %{{.*}}:2 = locus.param_vjp %[[Y]], %[[G]]
// GRAD-NOT: locus.vjp
// GRAD: locus.block "b2"
func.func @two_blocks(%x: tensor<8x1x8x8xf32>) -> tensor<8x6x2x2xf32> {
  %w1 = locus.param "w1" {fan_in = 9 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x1x3x3xf32>
  %b1 = locus.param "b1" {fan_in = 9 : i64, init = #locus.init<fan_in_uniform>} : tensor<4xf32>
  %c1 = locus.conv2d %x, %w1, %b1 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<8x4x8x8xf32>
  %r1 = locus.relu %c1 : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %p1 = locus.max_pool2d %r1 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
  %h1 = locus.local_loss "b1" %p1 {loss = #locus.loss<rule = "clapp++", pool = 2>} : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
  %w2 = locus.param "w2" {fan_in = 36 : i64, init = #locus.init<kaiming_uniform>} : tensor<6x4x3x3xf32>
  %c2 = locus.conv2d %h1, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x4x4x4xf32>, tensor<6x4x3x3xf32>) -> tensor<8x6x4x4xf32>
  %r2 = locus.relu %c2 : tensor<8x6x4x4xf32> -> tensor<8x6x4x4xf32>
  %p2 = locus.max_pool2d %r2 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x6x4x4xf32> -> tensor<8x6x2x2xf32>
  %h2 = locus.local_loss "b2" %p2 {loss = #locus.loss<rule = "clapp++", pool = 2>} : tensor<8x6x2x2xf32> -> tensor<8x6x2x2xf32>
  return %h2 : tensor<8x6x2x2xf32>
}

// -----

// Not fused: a strided conv, a 5x5 conv, a pool that does not tile the map
// (3x3 stride 2), and a conv that does not read the block input.
// CHECK-LABEL: func.func @kept_apart
// CHECK-NOT: locus.conv_relu_max_pool2d
// CHECK: return
func.func @kept_apart(%x: tensor<8x1x12x12xf32>) -> tensor<8x4x1x1xf32> {
  %w1 = locus.param "w1" {fan_in = 9 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x1x3x3xf32>
  %c1 = locus.conv2d %x, %w1 {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x1x12x12xf32>, tensor<4x1x3x3xf32>) -> tensor<8x4x6x6xf32>
  %r1 = locus.relu %c1 : tensor<8x4x6x6xf32> -> tensor<8x4x6x6xf32>
  %p1 = locus.max_pool2d %r1 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x6x6xf32> -> tensor<8x4x3x3xf32>
  %h1 = locus.local_loss "strided" %p1 {loss = #locus.loss<rule = "clapp++">} : tensor<8x4x3x3xf32> -> tensor<8x4x3x3xf32>
  %w2 = locus.param "w2" {fan_in = 100 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x4x5x5xf32>
  %c2 = locus.conv2d %h1, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 2, 2, 2, 2>, dilations = array<i64: 1, 1>} : (tensor<8x4x3x3xf32>, tensor<4x4x5x5xf32>) -> tensor<8x4x3x3xf32>
  %r2 = locus.relu %c2 : tensor<8x4x3x3xf32> -> tensor<8x4x3x3xf32>
  %p2 = locus.max_pool2d %r2 {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x3x3xf32> -> tensor<8x4x1x1xf32>
  %h2 = locus.local_loss "five" %p2 {loss = #locus.loss<rule = "clapp++">} : tensor<8x4x1x1xf32> -> tensor<8x4x1x1xf32>
  return %h2 : tensor<8x4x1x1xf32>
}
