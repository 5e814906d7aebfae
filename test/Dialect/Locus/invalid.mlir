// Verifier messages of the locus ops.
// RUN: locus-opt %s -split-input-file -verify-diagnostics

// The official CIFAR-10 script's kernel 12 on a 4x4 map.
func.func @pool_larger_than_map(%x: tensor<64x1024x4x4xf32>) {
  // expected-error @+1 {{'locus.local_loss' op block 'block6': loss pooling kernel 12 is larger than the 4x4 feature map of block 'block6'}}
  %h = locus.local_loss "block6" %x {loss = #locus.loss<rule = "clapp++", pool = 12>} : tensor<64x1024x4x4xf32> -> tensor<64x1024x4x4xf32>
  return
}

// -----

func.func @feedback_from_earlier_block(%x: tensor<8x4x8x8xf32>) {
  %a = locus.local_loss "b1" %x {loss = #locus.loss<pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  // expected-error @+1 {{'locus.local_loss' op block 'b2': a direct-feedback context must come from a later block, but 'b1' is block 1 and this is block 2}}
  %b = locus.local_loss "b2" %a {loss = #locus.loss<rule = "clapp++dfb", context = top, context_block = "b1", pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  return
}

// -----

func.func @feedback_from_itself(%x: tensor<8x4x8x8xf32>) {
  // expected-error @+1 {{a direct-feedback context must come from a later block, but 'b1' is block 1 and this is block 1}}
  %a = locus.local_loss "b1" %x {loss = #locus.loss<context = top, context_block = "b1", pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  return
}

// -----

func.func @feedback_from_missing_block(%x: tensor<8x4x8x8xf32>) {
  // expected-error @+1 {{block 'b1': context block 'b9' does not exist}}
  %a = locus.local_loss "b1" %x {loss = #locus.loss<context = both, context_block = "b9", pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  return
}

// -----

func.func @context_pool_larger_than_top(%x: tensor<8x4x8x8xf32>) {
  // expected-error @+1 {{block 'b1': context pooling kernel 4 is larger than the 2x2 feature map of block 'b2'}}
  %a = locus.local_loss "b1" %x {loss = #locus.loss<context = top, pool = 4, context_pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  %p = locus.max_pool2d %a {kernel = array<i64: 4, 4>, strides = array<i64: 4, 4>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x4x8x8xf32> -> tensor<8x4x2x2xf32>
  %b = locus.local_loss "b2" %p {loss = #locus.loss<pool = 2>} : tensor<8x4x2x2xf32> -> tensor<8x4x2x2xf32>
  return
}

// -----

func.func @duplicate_block(%x: tensor<8x4x8x8xf32>) {
  %a = locus.local_loss "b1" %x {loss = #locus.loss<pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  // expected-error @+1 {{block name 'b1' is used by more than one block}}
  %b = locus.local_loss "b1" %a {loss = #locus.loss<pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  return
}

// -----

func.func @mixed_modes(%x: tensor<8x4x8x8xf32>) {
  %a = locus.local_loss "b1" %x {loss = #locus.loss<pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  // expected-error @+1 {{block 'b2' trains in global mode but block 'b1' in local mode; a network has one mode}}
  %b = locus.local_loss "b2" %a {loss = #locus.loss<pool = 4, mode = global>} : tensor<8x4x8x8xf32> -> tensor<8x4x8x8xf32>
  return
}

// -----

func.func @pool_on_matrix(%x: tensor<8x16xf32>) {
  // expected-error @+1 {{block 'b1': loss pooling needs a feature map [N,C,H,W], but block 'b1' outputs 'tensor<8x16xf32>'}}
  %a = locus.local_loss "b1" %x {loss = #locus.loss<pool = 4>} : tensor<8x16xf32> -> tensor<8x16xf32>
  return
}

// -----

func.func @loss_changes_type(%x: tensor<8x4x8x8xf32>) {
  // expected-error @+1 {{block 'b1': the result must have the input's type 'tensor<8x4x8x8xf32>', got 'tensor<8x4x4x4xf32>'}}
  %a = locus.local_loss "b1" %x {loss = #locus.loss<pool = 4>} : tensor<8x4x8x8xf32> -> tensor<8x4x4x4xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<8x1x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'locus.conv2d' op weight expects 3 input channels but the input has 1}}
  %c = locus.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x1x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @conv_bias(%x: tensor<8x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{'locus.conv2d' op bias has 5 entries for 4 output channels}}
  %c = locus.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<5xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @conv_result(%x: tensor<8x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'locus.conv2d' op result type 'tensor<8x4x8x8xf32>' does not match the inferred 'tensor<8x4x6x6xf32>'}}
  %c = locus.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<8x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<8x4x8x8xf32>
  return
}

// -----

func.func @conv_pads(%x: tensor<8x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'locus.conv2d' op pads needs 4 entries (top, left, bottom, right)}}
  %c = locus.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @conv_stride(%x: tensor<8x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'locus.conv2d' op strides must be positive}}
  %c = locus.conv2d %x, %w {strides = array<i64: 0, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<8x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @pool_window(%x: tensor<8x3x2x2xf32>) {
  // expected-error @+1 {{'locus.max_pool2d' op kernel 3 is larger than the padded input height 2}}
  %p = locus.max_pool2d %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x3x2x2xf32> -> tensor<*xf32>
  return
}

// -----

func.func @avg_pool_rank(%x: tensor<8x3xf32>) {
  // expected-error @+1 {{'locus.avg_pool2d' op input must have rank 4, got tensor<8x3>}}
  %p = locus.avg_pool2d %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : tensor<8x3xf32> -> tensor<*xf32>
  return
}

// -----

func.func @linear_features(%x: tensor<8x16xf32>, %w: tensor<10x32xf32>) {
  // expected-error @+1 {{'locus.linear' op weight expects 32 input features but the input has 16}}
  %y = locus.linear %x, %w : (tensor<8x16xf32>, tensor<10x32xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @add_shapes(%a: tensor<8x16xf32>, %b: tensor<8x15xf32>) {
  // expected-error @+1 {{'locus.add' op operands must have the same shape, got tensor<8x16> and tensor<8x15>}}
  %y = locus.add %a, %b : tensor<8x16xf32>, tensor<8x15xf32> -> tensor<*xf32>
  return
}

// -----

func.func @concat_dims(%a: tensor<8x4x4x4xf32>, %b: tensor<8x4x2x4xf32>) {
  // expected-error @+1 {{'locus.concat' op inputs differ in dimension 2 (4 vs 2); only axis 1 may differ}}
  %y = locus.concat %a, %b {axis = 1 : i64} : (tensor<8x4x4x4xf32>, tensor<8x4x2x4xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @reshape_count(%a: tensor<8x16xf32>) {
  // expected-error @+1 {{'locus.reshape' op cannot reshape tensor<8x16> (128 elements) to 8x15 (120 elements)}}
  %y = locus.reshape %a {shape = array<i64: 8, 15>} : tensor<8x16xf32> -> tensor<*xf32>
  return
}

// -----

func.func @flatten_axis(%a: tensor<8x16xf32>) {
  // expected-error @+1 {{'locus.flatten' op axis 3 is out of range for rank 2}}
  %y = locus.flatten %a {axis = 3 : i64} : tensor<8x16xf32> -> tensor<*xf32>
  return
}

// -----

func.func @triangle_rank(%a: tensor<8xf32>) {
  // expected-error @+1 {{'locus.triangle' op input must have rank >= 2, got tensor<8>}}
  %y = locus.triangle %a : tensor<8xf32> -> tensor<*xf32>
  return
}

// -----

func.func @standardize_eps(%a: tensor<8x4xf32>) {
  // expected-error @+1 {{'locus.standardize' op eps must be positive}}
  %y = locus.standardize %a {eps = 0.0 : f64} : tensor<8x4xf32> -> tensor<*xf32>
  return
}

// -----

func.func @param_fan_in() {
  // expected-error @+1 {{'locus.param' op parameter 'w' with init kaiming_uniform needs a positive fan_in}}
  %w = locus.param "w" {init = #locus.init<kaiming_uniform>} : tensor<4x3x3x3xf32>
  return
}

// -----

func.func @param_value_type() {
  // expected-error @+1 {{'locus.param' op parameter 'w' value has type 'tensor<3xf32>', expected 'tensor<4xf32>'}}
  %w = locus.param "w" {init = #locus.init<value>, value = dense<1.0> : tensor<3xf32>} : tensor<4xf32>
  return
}

// -----

func.func @param_dynamic() {
  // expected-error @+1 {{'locus.param' op parameter 'w' needs a static shape, got 'tensor<?xf32>'}}
  %w = locus.param "w" {init = #locus.init<zeros>} : tensor<?xf32>
  return
}

// -----

// locus.conv_relu_max_pool2d has parameter adjoints only.
func.func @fused_conv_has_no_input_adjoint(%x: tensor<8x1x8x8xf32>, %w: tensor<4x1x3x3xf32>, %g: tensor<8x4x4x4xf32>) {
  %y = locus.conv_relu_max_pool2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, pool_kernel = array<i64: 2, 2>, pool_strides = array<i64: 2, 2>, pool_pads = array<i64: 0, 0, 0, 0>} : (tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<8x4x4x4xf32>
  // expected-error @+1 {{'locus.vjp' op differentiates locus.conv_relu_max_pool2d with respect to its input, which the fused op does not provide}}
  %dx = locus.vjp %y, %g : tensor<8x4x4x4xf32>, tensor<8x4x4x4xf32> -> tensor<8x1x8x8xf32>
  return
}

// -----

func.func @fused_conv_wrong_result(%x: tensor<8x1x8x8xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+1 {{'locus.conv_relu_max_pool2d' op result type 'tensor<8x4x8x8xf32>' does not match the inferred 'tensor<8x4x4x4xf32>'}}
  %y = locus.conv_relu_max_pool2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, pool_kernel = array<i64: 2, 2>, pool_strides = array<i64: 2, 2>, pool_pads = array<i64: 0, 0, 0, 0>} : (tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<8x4x8x8xf32>
  return
}
