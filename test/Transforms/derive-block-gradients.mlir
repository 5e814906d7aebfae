// locus-derive-block-gradients: each block's backward pass and updates.
// RUN: locus-opt %s -split-input-file --locus-partition-blocks --locus-fuse-relu-pool --locus-expand-rules --locus-derive-block-gradients | FileCheck %s
// RUN: locus-opt %s -split-input-file --locus-partition-blocks --locus-fuse-relu-pool --locus-expand-rules --locus-derive-block-gradients | locus-opt -split-input-file | FileCheck %s
// RUN: sed 's/#locus.loss<pool = 2>/#locus.loss<rule = "bp-clapp++", pool = 2, mode = global>/' %s | locus-opt -split-input-file --locus-partition-blocks --locus-expand-rules --locus-derive-block-gradients | FileCheck %s --check-prefix=GLOBAL

// Local rule, block 1: the seed is the fused loss step; the fused layer's
// adjoint feeds the conv's parameter gradients, which are applied at once;
// the conv's input gradient is never computed.
// CHECK-LABEL: func.func @net
// CHECK: %[[W1:.*]] = locus.param "w1"
// CHECK: %[[B1:.*]] = locus.param "b1"
// CHECK: %[[W2:.*]] = locus.param "w2"
// CHECK: %[[BB1:.*]] = locus.param "b1.B" {fan_in = 16 : i64, init = #locus.init<kaiming_uniform>} : tensor<16x16xf32>
// CHECK: locus.block "b1"
// CHECK:   %[[C1:.*]] = locus.conv2d
// CHECK:   %[[P1:.*]] = locus.relu_max_pool2d %[[C1]]
// CHECK:   %[[H1:.*]] = locus.local_loss "b1" %[[P1]]
// CHECK:   %[[Z1:.*]] = locus.loss_pool %[[H1]]
// CHECK:   %[[L1:.*]] = locus.bilinear_loss %[[Z1]], %[[Z1]], %[[BB1]]
// CHECK:   %[[DH1:.*]] = locus.loss_grad %[[L1]] : tensor<f32> -> tensor<8x4x4x4xf32>
// CHECK:   %[[DC1:.*]] = locus.vjp %[[P1]], %[[DH1]] : tensor<8x4x4x4xf32>, tensor<8x4x4x4xf32> -> tensor<8x4x8x8xf32>
// CHECK:   %[[G1:.*]]:2 = locus.param_vjp %[[C1]], %[[DC1]] : tensor<8x4x8x8xf32>, tensor<8x4x8x8xf32> -> tensor<4x1x3x3xf32>, tensor<4xf32>
// CHECK:   locus.update %[[W1]], %[[G1]]#0 : tensor<4x1x3x3xf32>
// CHECK:   locus.update %[[B1]], %[[G1]]#1 : tensor<4xf32>
// CHECK-NOT: locus.vjp %[[C1]]
// CHECK:   locus.yield %[[H1]]
// Block 2: nothing below the conv (the triangle) is differentiated.
// CHECK: locus.block "b2"
// CHECK:   %[[T:.*]] = locus.triangle
// CHECK:   %[[C2:.*]] = locus.conv2d %[[T]], %[[W2]]
// CHECK:   %[[R2:.*]] = locus.relu %[[C2]]
// CHECK:   %[[H2:.*]] = locus.local_loss "b2" %[[R2]]
// CHECK:   %[[L2:.*]] = locus.bilinear_loss
// CHECK:   %[[DH2:.*]] = locus.loss_grad %[[L2]]
// CHECK:   %[[DC2:.*]] = locus.vjp %[[R2]], %[[DH2]]
// CHECK:   %[[G2:.*]] = locus.param_vjp %[[C2]], %[[DC2]] : tensor<8x6x4x4xf32>, tensor<8x6x4x4xf32> -> tensor<6x4x3x3xf32>
// CHECK:   locus.update %[[W2]], %[[G2]]
// CHECK-NOT: locus.vjp
// CHECK-NOT: locus.input_grad
// CHECK:   locus.yield %[[H2]]

// Global mode: block 1 starts from the gradient block 2 hands down; block 2
// differentiates down to its input and hands dL/dx down.
// Only the top block has a loss (and a projection).
// GLOBAL-NOT: locus.param "b1.B"
// GLOBAL: locus.block "b1"
// GLOBAL:   %[[H1:.*]] = locus.local_loss "b1"
// GLOBAL-NOT: locus.bilinear_loss
// GLOBAL:   %{{.*}} = locus.output_grad : tensor<8x4x4x4xf32>
// GLOBAL-NOT: locus.loss_grad
// GLOBAL-NOT: locus.input_grad
// GLOBAL:   locus.yield %[[H1]]
// GLOBAL: locus.param "b2.B"
// GLOBAL: locus.block "b2"
// GLOBAL:   %[[T:.*]] = locus.triangle %arg1
// GLOBAL:   %[[C2:.*]] = locus.conv2d %[[T]]
// GLOBAL:   locus.loss_grad
// GLOBAL:   %[[G:.*]] = locus.param_vjp %[[C2]], %[[DC:.*]] :
// GLOBAL:   %[[DT:.*]] = locus.vjp %[[C2]], %[[DC]] : {{.*}} -> tensor<8x4x4x4xf32>
// GLOBAL:   %[[DX:.*]] = locus.vjp %[[T]], %[[DT]]
// GLOBAL:   locus.input_grad %[[DX]] : tensor<8x4x4x4xf32>

  func.func @net(%x: tensor<8x1x8x8xf32>) -> tensor<8x6x4x4xf32> {
    %w1 = locus.param "w1" {fan_in = 9 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x1x3x3xf32>
    %b1 = locus.param "b1" {fan_in = 9 : i64, init = #locus.init<fan_in_uniform>} : tensor<4xf32>
    %w2 = locus.param "w2" {fan_in = 36 : i64, init = #locus.init<kaiming_uniform>} : tensor<6x4x3x3xf32>
    %c1 = locus.conv2d %x, %w1, %b1 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<8x4x8x8xf32>
    %r1 = locus.relu %c1 : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
    %p1 = locus.max_pool2d %r1 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
    %h1 = locus.local_loss "b1" %p1 {loss = #locus.loss<pool = 2>} : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
    %t = locus.triangle %h1 : tensor<8x4x4x4xf32> -> tensor<8x4x4x4xf32>
    %c2 = locus.conv2d %t, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x4x4x4xf32>, tensor<6x4x3x3xf32>) -> tensor<8x6x4x4xf32>
    %r2 = locus.relu %c2 : tensor<8x6x4x4xf32> -> tensor<8x6x4x4xf32>
    %h2 = locus.local_loss "b2" %r2 {loss = #locus.loss<pool = 2>} : tensor<8x6x4x4xf32> -> tensor<8x6x4x4xf32>
    return %h2 : tensor<8x6x4x4xf32>
  }

