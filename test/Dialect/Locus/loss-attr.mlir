// #locus.loss spells out every rule of METHOD.md section 1; fields may come in
// any order, omitted ones take their defaults, and the printer is canonical.
// RUN: locus-opt %s -split-input-file | locus-opt -split-input-file | FileCheck %s

// Defaults: CLAPP without spatial dependency (global pooling).
// CHECK-LABEL: func.func @defaults
// CHECK: #locus.loss<rule = "custom", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = global, negatives = next, mode = local>
func.func @defaults(%x: tensor<4x8x4x4xf32>) -> tensor<4x8x4x4xf32> {
  %h = locus.local_loss "b" %x {loss = #locus.loss<>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return %h : tensor<4x8x4x4xf32>
}

// -----

// CLAPP++DFB and CLAPP++both with a context kernel k2 and a named context block.
// CHECK-LABEL: func.func @feedback
// CHECK: #locus.loss<rule = "clapp++dfb", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = top, context_block = "top", pool = 4, context_pool = 2, negatives = random, mode = local>
// CHECK: #locus.loss<rule = "clapp++both", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = both, pool = 4, negatives = next, mode = local>
// CHECK: #locus.loss<rule = "clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = next, weight = 5.000000e-01, mode = local>
func.func @feedback(%x: tensor<4x8x8x8xf32>, %y: tensor<4x8x4x4xf32>) -> (tensor<4x8x8x8xf32>, tensor<4x8x8x8xf32>, tensor<4x8x4x4xf32>) {
  %a = locus.local_loss "dfb" %x {loss = #locus.loss<context_pool = 2, negatives = random, pool = 4, context = top, context_block = "top", rule = "clapp++dfb">} : tensor<4x8x8x8xf32> -> tensor<4x8x8x8xf32>
  %b = locus.local_loss "both" %x {loss = #locus.loss<rule = "clapp++both", context = both, pool = 4>} : tensor<4x8x8x8xf32> -> tensor<4x8x8x8xf32>
  %c = locus.local_loss "top" %y {loss = #locus.loss<rule = "clapp++", pool = 2, weight = 0.5>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return %a, %b, %c : tensor<4x8x8x8xf32>, tensor<4x8x8x8xf32>, tensor<4x8x4x4xf32>
}

// -----

// Forward-Forward and SCFF: goodness scores, no projection, no pooling.
// CHECK-LABEL: func.func @goodness
// CHECK: #locus.loss<rule = "ff", score = sum_squares, f = softplus, form = contrastive, projection = identity, context = same, pool = none, negatives = hybrid, theta = 2.000000e+00, mode = local>
// CHECK: #locus.loss<rule = "scff", score = mean_relu_squares, f = softplus, form = contrastive, projection = identity, context = same, pool = none, negatives = roll, theta = 1.000000e+00, theta2 = 1.500000e+00, lambda = 3.000000e-02, mode = local>
func.func @goodness(%x: tensor<4x8x4x4xf32>) -> (tensor<4x8x4x4xf32>, tensor<4x8x4x4xf32>) {
  %a = locus.local_loss "ff" %x {loss = #locus.loss<rule = "ff", score = sum_squares, f = softplus, projection = identity, pool = none, negatives = hybrid, theta = 2.0>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  %b = locus.local_loss "scff" %a {loss = #locus.loss<rule = "scff", score = mean_relu_squares, f = softplus, projection = identity, pool = none, negatives = roll, theta = 1.0, theta2 = 1.5, lambda = 0.03>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return %a, %b : tensor<4x8x4x4xf32>, tensor<4x8x4x4xf32>
}

// -----

// PhyLL (Form 1) and the two global-backprop baselines.
// CHECK-LABEL: func.func @phyll
// CHECK: #locus.loss<rule = "phyll", score = bilinear, f = logistic, form = difference, projection = trainable, context = same, pool = 2, negatives = next, theta = 1.000000e+00, mode = local>
func.func @phyll(%x: tensor<4x8x4x4xf32>) -> tensor<4x8x4x4xf32> {
  %a = locus.local_loss "p" %x {loss = #locus.loss<rule = "phyll", f = logistic, form = difference, pool = 2, theta = 1.0>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return %a : tensor<4x8x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @global
// CHECK: #locus.loss<rule = "bp-clapp++", score = bilinear, f = hinge, form = contrastive, projection = trainable, context = same, pool = 2, negatives = next, mode = global>
// CHECK: #locus.loss<rule = "bp-infonce", score = cosine, f = infonce, form = contrastive, projection = shared, context = same, pool = global, negatives = next, temperature = 1.000000e-01, mode = global>
func.func @global(%x: tensor<4x8x4x4xf32>) -> tensor<4x8x4x4xf32> {
  %a = locus.local_loss "b1" %x {loss = #locus.loss<rule = "bp-clapp++", pool = 2, mode = global>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  %b = locus.local_loss "b2" %a {loss = #locus.loss<rule = "bp-infonce", score = cosine, f = infonce, projection = shared, temperature = 0.1, mode = global>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return %b : tensor<4x8x4x4xf32>
}
