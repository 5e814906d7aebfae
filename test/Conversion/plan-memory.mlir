// locus-plan-memory: the bytes a run keeps beside the step program's arena.
// RUN: locus-opt %s --locus-partition-blocks --locus-fuse-relu-pool --locus-expand-rules --locus-derive-block-gradients --locus-plan-memory | FileCheck %s
// RUN: locus-opt %s --locus-partition-blocks --locus-fuse-relu-pool --locus-expand-rules --locus-derive-block-gradients --locus-plan-memory=report=true -o /dev/null | FileCheck %s --check-prefix=REPORT

// N = 8 views, each buffer rounded up to the runtime's 64-byte granularity:
//   views 8x1x8x8 floats = 2048 B; parameters w1 (36 floats: 192 B), b1.B
//   (16x16: 1024 B), b2.B (4x4, pooled CLAPP's global pool: 64 B) = 1280 B;
//   AdamW keeps two moments of each: 2560 B (resident 5888 B); bfloat16
//   moments 2 x (128 + 512 + 64) = 1408 B (4736 B); SGD one buffer: 1280 B
//   (4608 B). The workspace is the CPU backend's for the one conv.
// CHECK: module attributes {locus.plan.resident = 5888 : i64, locus.plan.resident_bf16 = 4736 : i64, locus.plan.resident_sgd = 4608 : i64, locus.plan.workspace = 26624 : i64}
// CHECK: locus.block "b1"(%arg0)
// CHECK: locus.block "b2"(%{{.*}})
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
// REPORT: memory plan of 'net' (MiB, float32, 8 views per step)
// REPORT: block           params optimizer(AdamW)
// REPORT: b1
// REPORT: b2
// REPORT: resident (parameters, optimizer state, views):
// REPORT-NEXT: AdamW: 0.0
// REPORT: kernel workspace (largest convolution):
