//===- Passes.td - locus passes -----------------------------*- tablegen -*-===//
#ifndef LOCUS_PASSES_TD
#define LOCUS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LocusInferShapes : Pass<"locus-infer-shapes", "::mlir::func::FuncOp"> {
  let summary = "Give every value of a locus network a static shape";
  let description = [{
    The ONNX importer creates every op result as an unranked tensor; only the
    network input and the parameters carry shapes. This pass walks the
    function in program order and asks each op (through
    `InferShapeOpInterface`) for its result shape, then updates the function
    signature. It fails, naming the op, when an operand is not static or the
    operands do not fit the op (e.g. a convolution whose weight expects 3
    input channels on a 1-channel input), or when a result already carries a
    shape that disagrees with the inferred one.

    Example: `%r = locus.relu %c : tensor<64x128x28x28xf32> -> tensor<*xf32>`
    becomes `... -> tensor<64x128x28x28xf32>`.
  }];
  let dependentDialects = ["::locus::LocusDialect"];
}

def LocusPartitionBlocks : Pass<"locus-partition-blocks", "::mlir::func::FuncOp"> {
  let summary = "Group the network's ops into locus.block learning blocks";
  let description = [{
    Wraps everything that computes a `locus.local_loss` marker from the
    previous block's output (or the network input) into one `locus.block`
    op, whose region takes the block input as its argument and yields the
    marker. Parameters (`locus.param`) stay outside and are used from above.

    The pass fails, naming the op, when a block reads an activation of an
    earlier block other than that block's output (a skip connection across
    blocks, which block-by-block training cannot free), or when ops compute
    something after the last block that the function returns.

    Example: `%h1 = locus.local_loss "b1" %r` after `%c = locus.conv2d %x ...`
    and `%r = locus.relu %c` becomes `%h1 = locus.block "b1"(%x) {...}`.
  }];
  let dependentDialects = ["::locus::LocusDialect"];
}

def LocusExpandRules : Pass<"locus-expand-rules", "::mlir::func::FuncOp"> {
  let summary = "Write each block's rule out as loss ops and parameters";
  let description = [{
    For every learning block whose loss is optimised (all of them for a local
    rule, the top one for a global rule), this pass turns the `#locus.loss`
    of its marker into what the rule computes (METHOD.md section 1):

    - `locus.loss_pool` (average pooling with the rule's kernel, global, or
      none) gives z; the context is z itself (CLAPP++, pooled CLAPP, PhyLL),
      `locus.loss_context` of a later block (CLAPP++DFB, the feedback term of
      CLAPP++both), or the top block's own output with the context kernel;
    - the loss's parameters become `locus.param` ops above the block:
      `<block>.B` [D, D_ctx] (also InfoNCE's head), `<block>.B_lat` [D, D]
      for CLAPP++both, initialised as nn.Linear(D_ctx, D, bias=False);
    - the loss: `locus.bilinear_loss` (CLAPP family, PhyLL),
      `locus.goodness_loss` (Forward-Forward, SCFF), `locus.infonce_loss`
      (BP-InfoNCE), and `locus.loss_sum` of the two terms of CLAPP++both.

    locus-derive-block-gradients starts from that loss, and the runtime
    descriptor is read from these ops.
  }];
  let dependentDialects = ["::locus::LocusDialect"];
}

def LocusFuseConvReluPool
    : Pass<"locus-fuse-conv-relu-pool", "::mlir::func::FuncOp"> {
  let summary = "Fuse a block's first convolution with the relu + max-pool after it";
  let description = [{
    Rewrites `locus.relu_max_pool2d(locus.conv2d(x, w, b))` into
    `locus.conv_relu_max_pool2d(x, w, b)` where the runtime computes each
    pooling window straight from the convolution and never stores the
    convolution output nor its gradient (on the Fashion-MNIST example the
    two largest tensors of the step, 25.7 MB each). Runs after
    locus-fuse-relu-pool. It fuses only where:

    - the convolution reads the block input and no gradient with respect to
      that input is needed (a local rule, or the first block in global
      mode), since the fused op has parameter adjoints only;
    - the convolution is 3x3, stride 1, dilation 1, padding 1 and the pool
      2x2, stride 2, unpadded, over a map of even height and width;
    - the input has at most `max-input-channels` channels: the direct kernels
      that run the fused op are fast for a network's first layers (1-3 image
      channels); layers with more channels run as Winograd convolutions.

    Example: `%c = locus.conv2d %x, %w, %b {...}` and
    `%p = locus.relu_max_pool2d %c {...}` become
    `%p = locus.conv_relu_max_pool2d %x, %w, %b {...}`.
  }];
  let options = [
    Option<"maxInputChannels", "max-input-channels", "int64_t", /*default=*/"15",
           "Fuse convolutions with at most this many input channels">
  ];
}

def LocusFuseReluPool : Pass<"locus-fuse-relu-pool", "::mlir::func::FuncOp"> {
  let summary = "Fuse a relu and the max-pool that reads it into one op";
  let description = [{
    Rewrites `locus.max_pool2d(locus.relu(x))`, where the pool is the relu's
    only user, into `locus.relu_max_pool2d(x)`: the runtime then computes
    both in one pass over `x` and never stores the relu output (the pooled
    output and the arg-max carry the mask its backward pass needs). On the
    Fashion-MNIST example this removes the largest tensor of each block
    step.

    Example: `%r = locus.relu %c` and `%p = locus.max_pool2d %r {...}`
    become `%p = locus.relu_max_pool2d %c {...}`.
  }];
  let dependentDialects = ["::locus::LocusDialect"];
}

def LocusDeriveBlockGradients
    : Pass<"locus-derive-block-gradients", "::mlir::func::FuncOp"> {
  let summary = "Differentiate each learning block: its backward pass and updates";
  let description = [{
    Reverse-mode differentiation inside every `locus.block`, appended to the
    block body after its `locus.local_loss` marker:

    - the seed is `locus.loss_grad` of the block loss that locus-expand-rules
      wrote (the fused loss step), or
      in global mode, for every block but the top one, `locus.output_grad`
      (the gradient the block above hands down);
    - walking the block's ops from the marker down, each op with trainable
      operands gets `locus.param_vjp` and one `locus.update` per parameter,
      and `locus.vjp` carries the gradient to the op below;
    - a local rule stops at the lowest op with parameters: it never computes
      the gradient with respect to the block input, so the first
      convolution's backward-data pass does not exist; in global mode every
      block but the first also computes it and hands it down with
      `locus.input_grad`.

    The ops must form a chain from the block input to the marker (each op
    reading the previous one); an op without DifferentiableOpInterface
    (standardize, length_normalize) stops the pass with an error naming it.
    The runtime executes a block's backward pass in the order of these ops.
  }];
  let dependentDialects = ["::locus::LocusDialect"];
}

#endif // LOCUS_PASSES_TD
