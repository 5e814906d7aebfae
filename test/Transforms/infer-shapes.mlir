// locus-infer-shapes gives every value a static shape and refines the signature.
// RUN: locus-opt %s -split-input-file --locus-infer-shapes | FileCheck %s

// CHECK-LABEL: func.func @block(%{{.*}}: tensor<64x3x32x32xf32>) -> tensor<64x128x16x16xf32>
func.func @block(%x: tensor<64x3x32x32xf32>) -> tensor<*xf32> {
  %w = locus.param "w" {fan_in = 27 : i64, init = #locus.init<kaiming_uniform>} : tensor<128x3x3x3xf32>
  %b = locus.param "b" {fan_in = 27 : i64, init = #locus.init<fan_in_uniform>} : tensor<128xf32>
  // CHECK: locus.conv2d {{.*}} -> tensor<64x128x32x32xf32>
  %c = locus.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<64x3x32x32xf32>, tensor<128x3x3x3xf32>, tensor<128xf32>) -> tensor<*xf32>
  // CHECK: locus.relu {{.*}} : tensor<64x128x32x32xf32> -> tensor<64x128x32x32xf32>
  %r = locus.relu %c : tensor<*xf32> -> tensor<*xf32>
  // CHECK: locus.max_pool2d {{.*}} : tensor<64x128x32x32xf32> -> tensor<64x128x16x16xf32>
  %p = locus.max_pool2d %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<*xf32> -> tensor<*xf32>
  // CHECK: locus.local_loss "b1" {{.*}} : tensor<64x128x16x16xf32> -> tensor<64x128x16x16xf32>
  %h = locus.local_loss "b1" %p {loss = #locus.loss<rule = "clapp++", pool = 4>} : tensor<*xf32> -> tensor<*xf32>
  return %h : tensor<*xf32>
}

// -----

// Strided, dilated and asymmetric padding; pooling in floor mode.
// CHECK-LABEL: func.func @windows
func.func @windows(%x: tensor<2x4x11x9xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %w = locus.param "w" {fan_in = 36 : i64, init = #locus.init<kaiming_uniform>} : tensor<6x4x3x3xf32>
  // (11 + 1 + 0 - 5) / 2 + 1 = 4 and (9 + 2 + 2 - 5) / 2 + 1 = 5
  // CHECK: locus.conv2d {{.*}} -> tensor<2x6x4x5xf32>
  %c = locus.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 2, 0, 2>, dilations = array<i64: 2, 2>} : (tensor<2x4x11x9xf32>, tensor<6x4x3x3xf32>) -> tensor<*xf32>
  // CHECK: locus.avg_pool2d {{.*}} : tensor<2x4x11x9xf32> -> tensor<2x4x3x3xf32>
  %a = locus.avg_pool2d %x {kernel = array<i64: 3, 3>, strides = array<i64: 3, 3>, pads = array<i64: 0, 0, 0, 0>} : tensor<2x4x11x9xf32> -> tensor<*xf32>
  // CHECK: locus.global_avg_pool {{.*}} : tensor<2x4x11x9xf32> -> tensor<2x4x1x1xf32>
  %g = locus.global_avg_pool %x : tensor<2x4x11x9xf32> -> tensor<*xf32>
  return %c, %a, %g : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// A probe-like head: concat, flatten, reshape and linear.
// CHECK-LABEL: func.func @head(%{{.*}}: tensor<8x4x2x2xf32>, %{{.*}}: tensor<8x2x2x2xf32>) -> tensor<8x10xf32>
func.func @head(%a: tensor<8x4x2x2xf32>, %b: tensor<8x2x2x2xf32>) -> tensor<*xf32> {
  // CHECK: locus.concat {{.*}} -> tensor<8x6x2x2xf32>
  %c = locus.concat %a, %b {axis = 1 : i64} : (tensor<8x4x2x2xf32>, tensor<8x2x2x2xf32>) -> tensor<*xf32>
  // CHECK: locus.flatten {{.*}} -> tensor<8x24xf32>
  %f = locus.flatten %c : tensor<*xf32> -> tensor<*xf32>
  // CHECK: locus.reshape {{.*}} -> tensor<8x6x4xf32>
  %r = locus.reshape %c {shape = array<i64: 0, 6, -1>} : tensor<*xf32> -> tensor<*xf32>
  %w = locus.param "w" {fan_in = 24 : i64, init = #locus.init<kaiming_uniform>} : tensor<10x24xf32>
  %bias = locus.param "b" {fan_in = 24 : i64, init = #locus.init<fan_in_uniform>} : tensor<10xf32>
  // CHECK: locus.linear {{.*}} -> tensor<8x10xf32>
  %y = locus.linear %f, %w, %bias : (tensor<*xf32>, tensor<10x24xf32>, tensor<10xf32>) -> tensor<*xf32>
  // CHECK: locus.add {{.*}} -> tensor<8x10xf32>
  %s = locus.add %y, %y : tensor<*xf32>, tensor<*xf32> -> tensor<*xf32>
  return %s : tensor<*xf32>
}

// -----

// Already-static results are left as they are.
// CHECK-LABEL: func.func @static
// CHECK: locus.triangle {{.*}} : tensor<8x4x2x2xf32> -> tensor<8x4x2x2xf32>
// CHECK: locus.standardize {{.*}} : tensor<8x4x2x2xf32> -> tensor<8x4x2x2xf32>
// CHECK: locus.length_normalize {{.*}} : tensor<8x4x2x2xf32> -> tensor<8x4x2x2xf32>
func.func @static(%a: tensor<8x4x2x2xf32>) -> tensor<8x4x2x2xf32> {
  %t = locus.triangle %a : tensor<8x4x2x2xf32> -> tensor<8x4x2x2xf32>
  %s = locus.standardize %t : tensor<8x4x2x2xf32> -> tensor<*xf32>
  %n = locus.length_normalize %s : tensor<*xf32> -> tensor<8x4x2x2xf32>
  return %n : tensor<8x4x2x2xf32>
}
