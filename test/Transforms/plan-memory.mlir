// locus-plan-memory: per-block bytes and the local and global peaks.
// RUN: locus-opt %s --locus-partition-blocks --locus-plan-memory | FileCheck %s
// RUN: locus-opt %s --locus-partition-blocks --locus-plan-memory=report=true -o /dev/null | FileCheck %s --check-prefix=REPORT

// N = 8 views. Block b1: conv 1->4 on 8x8, relu, maxpool to 4x4, pool 2 -> D = 16.
//   params: w 36 + B 16*16 = 292 floats = 1168 B; optimizer 2336; gradients 1168.
//   forward: input 512 + conv 2048 + relu 2048 + pool 512 + argmax 512 = 5632 floats/indices = 22528 B
//   backward: z, Bc, dz (3 * 8 * 16) + context (8 * 16) = 512 floats = 2048 B;
//             2 * 2048 floats = 16384 B; im2col 9 * 64 floats = 2304 B; total 20736 B
//   activations = 43264 B
// CHECK: module attributes {locus.plan.peak_global = 52288 : i64, locus.plan.peak_local = 48128 : i64}
// CHECK: locus.block "b1"(%arg0) {plan = {activations = 43264 : i64, gradients = 1168 : i64, optimizer = 2336 : i64, params = 1168 : i64}}
// Block b2: relu only on 8x4x4x4, global pooling: D = 4; B 4*4.
//   params 64 B, optimizer 128, gradients 64; forward (512 + 512) * 4 = 4096;
//   backward (3 * 8 * 4 + 8 * 4) * 4 + 2 * 512 * 4 = 512 + 4096 = 4608; activations 8704
// CHECK: locus.block "b2"(%{{.*}}) {plan = {activations = 8704 : i64, gradients = 64 : i64, optimizer = 128 : i64, params = 64 : i64}}
// Local peak: resident (1168 + 2336 + 64 + 128) + max(1168 + 43264, 64 + 8704) = 3696 + 44432 = 48128
// Global peak: 3696 + gradients 1232 + forward (22528 + 4096) + largest backward 20736 = 52288
module {
  func.func @net(%x: tensor<8x1x8x8xf32>) -> tensor<8x4x4x4xf32> {
    %w1 = locus.param "w1" {fan_in = 9 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x1x3x3xf32>
    %c1 = locus.conv2d %x, %w1 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<8x4x8x8xf32>
    %r1 = locus.relu %c1 : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
    %p1 = locus.max_pool2d %r1 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
    %h1 = locus.local_loss "b1" %p1 {loss = #locus.loss<rule = "clapp++", pool = 2>} : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
    %r2 = locus.relu %h1 : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
    %h2 = locus.local_loss "b2" %r2 {loss = #locus.loss<rule = "clapp">} : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
    return %h2 : tensor<8x4x4x4xf32>
  }
}
// REPORT: memory plan (MiB, float32)
// REPORT: block           params optimizer gradients activations(local) activations(global)
// REPORT: b1
// REPORT: b2
// REPORT: peak, local (block by block):
// REPORT: peak, global (backprop):
// REPORT: local / global: 0.920
