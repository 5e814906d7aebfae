// Every locus op prints and parses back, in the custom and in the generic form.
// RUN: locus-opt %s | locus-opt | FileCheck %s
// RUN: locus-opt %s --mlir-print-op-generic | locus-opt | FileCheck %s

// CHECK-LABEL: func.func @layers
func.func @layers(%x: tensor<8x3x8x8xf32>) -> tensor<8x10xf32> {
  // CHECK: locus.param "w" {fan_in = 27 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x3x3x3xf32>
  %w = locus.param "w" {fan_in = 27 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x3x3x3xf32>
  // CHECK: locus.param "b" {fan_in = 27 : i64, init = #locus.init<fan_in_uniform>} : tensor<4xf32>
  %b = locus.param "b" {fan_in = 27 : i64, init = #locus.init<fan_in_uniform>} : tensor<4xf32>
  // CHECK: locus.param "z" {init = #locus.init<zeros>} : tensor<4xf32>
  %z = locus.param "z" {init = #locus.init<zeros>} : tensor<4xf32>
  // CHECK: locus.param "v" {init = #locus.init<value>, value = dense<5.000000e-01> : tensor<10x64xf32>} : tensor<10x64xf32>
  %v = locus.param "v" {init = #locus.init<value>, value = dense<0.5> : tensor<10x64xf32>} : tensor<10x64xf32>
  // CHECK: locus.conv2d %{{.*}}, %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<8x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<8x4x8x8xf32>
  %c = locus.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<8x4x8x8xf32>
  // CHECK: locus.conv2d %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<8x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<8x4x3x3xf32>
  %c2 = locus.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<8x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<8x4x3x3xf32>
  // CHECK: locus.relu %{{.*}} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %r = locus.relu %c : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  // CHECK: locus.triangle %{{.*}} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %t = locus.triangle %r : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  // CHECK: locus.standardize %{{.*}} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %s = locus.standardize %t : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  // CHECK: locus.length_normalize %{{.*}} {eps = 1.000000e-03 : f64} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %n = locus.length_normalize %s {eps = 1.0e-3 : f64} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  // CHECK: locus.add %{{.*}}, %{{.*}} : tensor<8x4x8x8xf32>, tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %a = locus.add %n, %r : tensor<8x4x8x8xf32>, tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  // CHECK: locus.concat %{{.*}}, %{{.*}} : (tensor<8x4x8x8xf32>, tensor<8x4x8x8xf32>) -> tensor<8x8x8x8xf32>
  %cat = locus.concat %a, %r {axis = 1 : i64} : (tensor<8x4x8x8xf32>, tensor<8x4x8x8xf32>) -> tensor<8x8x8x8xf32>
  // CHECK: locus.max_pool2d %{{.*}} {kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : tensor<8x8x8x8xf32> -> tensor<8x8x4x4xf32>
  %mp = locus.max_pool2d %cat {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x8x8x8xf32> -> tensor<8x8x4x4xf32>
  // CHECK: locus.avg_pool2d %{{.*}} {count_include_pad = true, kernel = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : tensor<8x8x4x4xf32> -> tensor<8x8x4x4xf32>
  %ap = locus.avg_pool2d %mp {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = true} : tensor<8x8x4x4xf32> -> tensor<8x8x4x4xf32>
  // CHECK: locus.global_avg_pool %{{.*}} : tensor<8x8x4x4xf32> -> tensor<8x8x1x1xf32>
  %g = locus.global_avg_pool %ap : tensor<8x8x4x4xf32> -> tensor<8x8x1x1xf32>
  // CHECK: locus.flatten %{{.*}} : tensor<8x8x4x4xf32> -> tensor<8x128xf32>
  %f = locus.flatten %ap {axis = 1 : i64} : tensor<8x8x4x4xf32> -> tensor<8x128xf32>
  // CHECK: locus.reshape %{{.*}} {shape = array<i64: 8, -1>} : tensor<8x8x4x4xf32> -> tensor<8x128xf32>
  %rs = locus.reshape %ap {shape = array<i64: 8, -1>} : tensor<8x8x4x4xf32> -> tensor<8x128xf32>
  // CHECK: locus.reshape %{{.*}} {shape = array<i64: 0, 2, 64>} : tensor<8x128xf32> -> tensor<8x2x64xf32>
  %rs2 = locus.reshape %rs {shape = array<i64: 0, 2, 64>} : tensor<8x128xf32> -> tensor<8x2x64xf32>
  // CHECK: locus.local_loss "blk" %{{.*}} {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = next, mode = local>} : tensor<8x8x4x4xf32> -> tensor<8x8x4x4xf32>
  %h = locus.local_loss "blk" %ap {loss = #locus.loss<rule = "clapp++", pool = 2>} : tensor<8x8x4x4xf32> -> tensor<8x8x4x4xf32>
  %hf = locus.flatten %h : tensor<8x8x4x4xf32> -> tensor<8x128xf32>
  %half = locus.reshape %hf {shape = array<i64: 8, 64, 2>} : tensor<8x128xf32> -> tensor<8x64x2xf32>
  %m = locus.flatten %half {axis = 2 : i64} : tensor<8x64x2xf32> -> tensor<512x2xf32>
  %wl = locus.param "wl" {fan_in = 128 : i64, init = #locus.init<kaiming_uniform>} : tensor<10x128xf32>
  %bl = locus.param "bl" {fan_in = 128 : i64, init = #locus.init<fan_in_uniform>} : tensor<10xf32>
  // CHECK: locus.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<8x128xf32>, tensor<10x128xf32>, tensor<10xf32>) -> tensor<8x10xf32>
  %y = locus.linear %hf, %wl, %bl {transpose_weight = true} : (tensor<8x128xf32>, tensor<10x128xf32>, tensor<10xf32>) -> tensor<8x10xf32>
  %wm = locus.param "wm" {fan_in = 128 : i64, init = #locus.init<kaiming_uniform>} : tensor<128x10xf32>
  // CHECK: locus.linear %{{.*}}, %{{.*}} {transpose_weight = false} : (tensor<8x128xf32>, tensor<128x10xf32>) -> tensor<8x10xf32>
  %y2 = locus.linear %hf, %wm {transpose_weight = false} : (tensor<8x128xf32>, tensor<128x10xf32>) -> tensor<8x10xf32>
  // Results may stay unranked until locus-infer-shapes runs.
  // CHECK: locus.relu %{{.*}} : tensor<8x10xf32> -> tensor<*xf32>
  %u = locus.relu %y2 : tensor<8x10xf32> -> tensor<*xf32>
  return %y : tensor<8x10xf32>
}
