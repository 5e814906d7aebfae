// RUN: locus-opt %s --locus-generate-loss-kernels --locus-lower-to-step | FileCheck %s
// RUN: locus-opt %s --locus-generate-loss-kernels --locus-lower-to-step --locus-plan-arena --locus-outline-block-steps --locus-lower-kernels-to-llvm | FileCheck %s --check-prefix=LOWERED
//
// One block (conv, relu, max-pool; CLAPP++ with random negatives): the three
// entry points call the backend in the block's order. The block output is
// allocated outside the block's region (the next block reads it); the relu
// runs in place on the conv output. The loss is B c (a backend primitive), then
// the generated kernel, called by the program with its scratch and the
// term's loss slot; the fused variant updates B from the kernel's factors,
// the unfused one forms dB = factors^T c and applies it with the block's
// other gradients once the backward pass is done; evaluation stops after
// the loss. The entry ends by handing the loss slots to the runtime.
// Parameters are named by descriptor index (conv_w 0, conv_b 1, block1.B 2).

// The slot of every entry's one loss term belongs to block 0.
// CHECK-DAG: memref.global "private" constant @locus_loss_blocks_locus_train_fused_step : memref<1xi32> = dense<0>
// CHECK-DAG: memref.global "private" constant @locus_loss_blocks_locus_evaluate_step : memref<1xi32> = dense<0>

// CHECK-LABEL: func.func @locus_train_fused_step(%{{.*}}: !llvm.ptr, %{{.*}}: memref<4x2x8x8xf32>, %{{.*}}: memref<?xi8>)
// CHECK-SAME: locus.step_entry
// CHECK: %[[LOSSES:.*]] = memref.alloc() : memref<1xf64>
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<4x4x4x4xf32>
// CHECK: scf.execute_region
// The block step's first call tells the runtime which block follows (its
// errors name it).
// CHECK-NEXT: %[[B0:.*]] = arith.constant 0 : i32
// CHECK-NEXT: call @locus_rt_enter_block(%{{.*}}, %[[B0]]) : (!llvm.ptr, i32) -> ()
// CHECK: %[[CONV:.*]] = memref.alloc() : memref<4x4x8x8xf32>
// CHECK: call @locus_rt_conv2d_forward(
// CHECK-NOT: memref.alloc
// CHECK: call @locus_rt_relu_forward(
// CHECK: memref.alloc() : memref<4x4x4x4xi32>
// CHECK: call @locus_rt_max_pool_forward(
// CHECK: memref.alloc() : memref<4x4x2x2xf32>
// CHECK: call @locus_rt_loss_pool(
// CHECK: memref.alloc() : memref<4xi32>
// CHECK: call @locus_rt_draw_negatives(
// CHECK: %[[BC:.*]] = memref.alloc() : memref<4x16xf32>
// CHECK: call @locus_rt_project_rows(%{{[^,]+}}, %{{[^,]+}}, %c2_i32
// CHECK: %[[FACTORS:.*]] = memref.alloc() : memref<4x16xf32>
// CHECK: %[[WORK:.*]] = memref.alloc() : memref<4x4xf64>
// CHECK: %[[SLOT:.*]] = memref.reinterpret_cast %[[LOSSES]] to offset: [0], sizes: [], strides: []
// CHECK: %[[SLOTANY:.*]] = memref.cast %[[SLOT]] : memref<f64, strided<[]>> to memref<f64, strided<[], offset: ?>>
// The program names and calls the loss kernel itself (the runtime holds no rule).
// CHECK: call @locus_bilinear_loss_hinge_contrastive_random({{.*}}, %[[SLOTANY]], %{{.*}}, %{{.*}}, %false)
// CHECK: call @locus_rt_adamw_from_factors(
// CHECK: call @locus_rt_loss_unpool(
// CHECK: call @locus_rt_max_pool_backward(
// CHECK: call @locus_rt_relu_backward(
// CHECK: call @locus_rt_conv2d_backward_weight(
// CHECK: call @locus_rt_apply_gradient(%{{.*}}, %c0_i32
// CHECK: call @locus_rt_apply_gradient(%{{.*}}, %c1_i32
// CHECK: } {locus.block = "block1", locus.block_step = 0 : i32, locus.step_function = "block0"}
// CHECK: %[[BLOCKS:.*]] = memref.get_global @locus_loss_blocks_locus_train_fused_step : memref<1xi32>
// CHECK: %[[L:.*]] = memref.cast %[[LOSSES]] : memref<1xf64> to memref<?xf64>
// CHECK: %[[B:.*]] = memref.cast %[[BLOCKS]] : memref<1xi32> to memref<?xi32>
// CHECK: call @locus_rt_add_losses(%{{.*}}, %[[L]], %[[B]])
// CHECK-NEXT: return

// CHECK-LABEL: func.func @locus_train_step(
// CHECK: call @locus_bilinear_loss_hinge_contrastive_random(
// CHECK: memref.alloc() : memref<16x16xf32>
// CHECK: call @locus_rt_projection_gradient(
// CHECK: call @locus_rt_loss_unpool(
// CHECK: call @locus_rt_conv2d_backward_weight(
// CHECK: memref.collapse_shape {{.*}} : memref<16x16xf32> into memref<256xf32>
// CHECK: call @locus_rt_apply_gradient(%{{.*}}, %c2_i32
// CHECK: call @locus_rt_apply_gradient(%{{.*}}, %c0_i32

// Evaluation forms no dL/dB (an 8192^2 buffer on VGG-6): the loss and its
// row factors [N, D] only, and no update.
// CHECK-LABEL: func.func @locus_evaluate_step(
// CHECK-NOT: memref.alloc() : memref<16x16xf32>
// CHECK: call @locus_bilinear_loss_hinge_contrastive_random(
// CHECK-NOT: call @locus_rt_adamw_from_factors(
// CHECK-NOT: call @locus_rt_loss_unpool(
// CHECK-NOT: call @locus_rt_apply_gradient(
// CHECK: call @locus_rt_add_losses(
// CHECK: return

// Lowered: the C interfaces the runtime defines and calls.
// LOWERED-DAG: llvm.func @_mlir_ciface_locus_rt_conv2d_forward(!llvm.ptr, !llvm.ptr, i32, i32, f32, !llvm.ptr, i64, i64, i64, i64, i64, i64, i64, i64)
// LOWERED-DAG: llvm.func @_mlir_ciface_locus_train_fused_step(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// LOWERED-DAG: llvm.func @locus_train_fused_step_block0(
// LOWERED-DAG: llvm.func @_mlir_ciface_locus_rt_add_losses(!llvm.ptr, !llvm.ptr, !llvm.ptr)
// LOWERED-DAG: llvm.call @locus_bilinear_loss_hinge_contrastive_random(

module {
  module @locus_kernels attributes {locus.kernels} {
  }
  func.func @net(%arg0: tensor<4x2x8x8xf32>) -> tensor<4x4x4x4xf32> {
    %w = locus.param "conv_w" {fan_in = 18 : i64, init = #locus.init<kaiming_uniform>} : tensor<4x2x3x3xf32>
    %b = locus.param "conv_b" {fan_in = 18 : i64, init = #locus.init<fan_in_uniform>} : tensor<4xf32>
    %B = locus.param "block1.B" {fan_in = 16 : i64, init = #locus.init<kaiming_uniform>} : tensor<16x16xf32>
    %h = locus.block "block1"(%arg0) : tensor<4x2x8x8xf32> -> tensor<4x4x4x4xf32> {
    ^bb0(%x: tensor<4x2x8x8xf32>):
      %c = locus.conv2d %x, %w, %b {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<4x2x8x8xf32>, tensor<4x2x3x3xf32>, tensor<4xf32>) -> tensor<4x4x8x8xf32>
      %r = locus.relu %c : tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32>
      %p = locus.max_pool2d %r {kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : tensor<4x4x8x8xf32> -> tensor<4x4x4x4xf32>
      %m = locus.local_loss "block1" %p {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = random, mode = local>} : tensor<4x4x4x4xf32> -> tensor<4x4x4x4xf32>
      %z = locus.loss_pool %m {kernel = 2 : i64} : tensor<4x4x4x4xf32> -> tensor<4x16xf32>
      %L = locus.bilinear_loss %z, %z, %B {loss = #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = random, mode = local>} : tensor<4x16xf32>, tensor<4x16xf32>, tensor<16x16xf32> -> tensor<f32>
      %dh = locus.loss_grad %L : tensor<f32> -> tensor<4x4x4x4xf32>
      %dr = locus.vjp %p, %dh : tensor<4x4x4x4xf32>, tensor<4x4x4x4xf32> -> tensor<4x4x8x8xf32>
      %dc = locus.vjp %r, %dr : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x4x8x8xf32>
      %g:2 = locus.param_vjp %c, %dc : tensor<4x4x8x8xf32>, tensor<4x4x8x8xf32> -> tensor<4x2x3x3xf32>, tensor<4xf32>
      locus.update %w, %g#0 : tensor<4x2x3x3xf32>
      locus.update %b, %g#1 : tensor<4xf32>
      locus.yield %m : tensor<4x4x4x4xf32>
    }
    return %h : tensor<4x4x4x4xf32>
  }
}
