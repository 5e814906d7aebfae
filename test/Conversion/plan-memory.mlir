// locus-plan-memory: per-block bytes and the local and global peaks.
// RUN: locus-opt %s --locus-partition-blocks --locus-fuse-relu-pool --locus-expand-rules --locus-derive-block-gradients --locus-plan-memory | FileCheck %s
// RUN: locus-opt %s --locus-partition-blocks --locus-fuse-relu-pool --locus-expand-rules --locus-derive-block-gradients --locus-plan-memory=report=true -o /dev/null | FileCheck %s --check-prefix=REPORT

// N = 8 views; the walk follows the CPU engine (runtime/src/MemoryPlan.cpp),
// each tensor rounded up to the engine's 64-byte allocation granularity.
// Block b1: conv 1->4 on 8x8 (no bias), then relu + maxpool fused into one pass, loss pool 2: D = 16.
//   forward: conv out 8192 B, then pooled output 2048 and arg-max 2048 (kept); the conv out is freed;
//   loss: z 512, dz 512, then AdamW updates B from the row factors of dB (N x D = 512 B, freed at
//   once: dB itself is never formed); z freed, dh 2048, dz freed;
//   backward: fused pool/relu dx 8192 -> peak 14336 B; the only gradient is dW (144 B, held
//   as 192), so activations = 14336 - 192 = 14144. Parameters: w1 192 + B 1024; AdamW twice that.
// CHECK: module attributes {locus.plan.peak_global = 44800 : i64, locus.plan.peak_local = 46848 : i64, locus.plan.resident = 5888 : i64, locus.plan.resident_bf16 = 4736 : i64, locus.plan.resident_sgd = 4608 : i64, locus.plan.workspace = 26624 : i64}
// CHECK: locus.block "b1"(%arg0) {plan = {activations = 14144 : i64, gradients = 192 : i64, optimizer = 2432 : i64, params = 1216 : i64}}
// Block b2: relu on its 8x4x4x4 input (not in place: the input is kept by b1's output), global pool: D = 4.
// CHECK: locus.block "b2"(%{{.*}}) {plan = {activations = 4224 : i64, gradients = 0 : i64, optimizer = 128 : i64, params = 64 : i64}}
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
// REPORT: block           params optimizer gradients activations(local) kept(global)
// REPORT: b1
// REPORT: b2
// REPORT: peak, local (block by block):
// REPORT: peak, global (backprop):
// REPORT: local / global: 1.046
