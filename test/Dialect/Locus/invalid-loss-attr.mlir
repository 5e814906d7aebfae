// Malformed #locus.loss attributes are rejected with the field at fault.
// RUN: locus-opt %s -split-input-file -verify-diagnostics

func.func @unknown_field(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{unknown field 'poool' (expected rule, score, f, form, projection, context, context_block, pool, context_pool, negatives, theta, theta2, lambda, temperature, weight or mode)}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<poool = 4>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @unknown_value(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{unknown value 'squared' for 'f'}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<f = squared>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @twice(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{field 'pool' given twice}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<pool = 2, pool = 4>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @zero_kernel(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{'pool' must be a positive kernel size, 'global' or 'none'}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<pool = 0>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @goodness_with_projection(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{a goodness score (sum_squares) has no projection: use projection = identity}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<score = sum_squares, f = softplus>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @goodness_with_feedback(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{a goodness score (mean_relu_squares) uses the block's own output as context}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<score = mean_relu_squares, f = softplus, projection = identity, context = top>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @both_needs_bilinear(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{context = both needs the bilinear score}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<score = cosine, f = infonce, context = both>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @infonce_needs_cosine(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{f = infonce and score = cosine go together}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<f = infonce>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @temperature(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{temperature must be positive, got 0}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<score = cosine, f = infonce, temperature = 0.0>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @negative_weight(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{loss weight must not be negative, got -1}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<weight = -1.0>} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}

// -----

func.func @context_block_needs_feedback(%x: tensor<4x8x4x4xf32>) {
  // expected-error @+1 {{context_block 'b' needs context = top or both}}
  %h = locus.local_loss "b" %x {loss = #locus.loss<context_block = "b">} : tensor<4x8x4x4xf32> -> tensor<4x8x4x4xf32>
  return
}
