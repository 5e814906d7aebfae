//===- LocusOps.td - locus operations -----------------------*- tablegen -*-===//
#ifndef LOCUS_OPS_TD
#define LOCUS_OPS_TD

include "locus/Dialect/Locus/IR/LocusDialect.td"
include "locus/Dialect/Locus/IR/LocusAttrs.td"
include "locus/Dialect/Locus/IR/LocusInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Locus_Tensor : TensorOf<[F32]>;

class Locus_ShapedOp<string mnemonic, list<Trait> traits = []>
    : Locus_Op<mnemonic, !listconcat(traits,
        [Pure, DeclareOpInterfaceMethods<Locus_InferShapeOpInterface>])> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Locus_ParamOp : Locus_Op<"param", [Pure]> {
  let summary = "a trainable parameter";
  let description = [{
    Declares a trainable tensor (a convolution or linear weight or bias) by its
    name in the model spec, how it is initialised, and the fan-in that the
    PyTorch-default initialisers need. With `init = value` the initial value
    is the `value` attribute (an ONNX initializer).

    Example:

    ```mlir
    %w = locus.param "conv1_w" {fan_in = 27 : i64, init = #locus.init<kaiming_uniform>} : tensor<128x3x3x3xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, Locus_InitAttr:$init,
                       OptionalAttr<I64Attr>:$fan_in,
                       OptionalAttr<ElementsAttr>:$value);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

def Locus_Conv2DOp : Locus_ShapedOp<"conv2d",
    [DeclareOpInterfaceMethods<Locus_DifferentiableOpInterface, ["getTrainableOperands"]>]> {
  let summary = "2D convolution, NCHW input, OIHW weight, optional bias";
  let description = [{
    `y[n,o,y,x] = b[o] + sum_{i,p,q} w[o,i,p,q] * xpad[n,i,y*sy+p*dy,x*sx+q*dx]`
    with `pads = [top, left, bottom, right]` zeros around the input.

    Example:

    ```mlir
    %y = locus.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
           dilations = array<i64: 1, 1>} : (tensor<64x3x32x32xf32>, tensor<128x3x3x3xf32>,
           tensor<128xf32>) -> tensor<64x128x32x32xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$input, Locus_Tensor:$weight,
                       Optional<Locus_Tensor>:$bias,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

class Locus_UnaryOp<string mnemonic, string sum, string desc, list<Trait> traits = []>
    : Locus_ShapedOp<mnemonic, traits> {
  let summary = sum;
  let description = desc;
  let arguments = (ins Locus_Tensor:$input);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Locus_ReluOp : Locus_UnaryOp<"relu", "rectified linear unit", [{
    `y = max(x, 0)` element-wise.

    ```mlir
    %y = locus.relu %x : tensor<64x128x32x32xf32> -> tensor<64x128x32x32xf32>
    ```
  }], [Locus_DifferentiableOpInterface]>;

def Locus_TriangleOp : Locus_UnaryOp<"triangle",
    "the triangle activation relu(x - mean over channels)", [{
    `y[n,c,h,w] = max(0, x[n,c,h,w] - mean_c' x[n,c',h,w])` (Coates et al.),
    used by the CLAPP-family networks of the official code as an alternative
    to ReLU. The input must have a channel dimension (rank >= 2).

    ```mlir
    %y = locus.triangle %x : tensor<64x128x8x8xf32> -> tensor<64x128x8x8xf32>
    ```
  }], [Locus_DifferentiableOpInterface]>;

def Locus_StandardizeOp : Locus_UnaryOp<"standardize",
    "per-sample standardisation to zero mean and unit variance", [{
    `y[n] = (x[n] - mean(x[n])) / sqrt(var(x[n]) + eps)` over all non-batch
    dimensions of each sample (SCFF standardises every layer input this way;
    ONNX `MeanVarianceNormalization` with axes [1, 2, 3] maps here).

    ```mlir
    %y = locus.standardize %x {eps = 1.0e-5 : f64} : tensor<64x3x32x32xf32> -> tensor<64x3x32x32xf32>
    ```
  }]> {
  let arguments = (ins Locus_Tensor:$input, DefaultValuedAttr<F64Attr, "1.0e-5">:$eps);
}

def Locus_LengthNormalizeOp : Locus_UnaryOp<"length_normalize",
    "per-sample division by the Euclidean length", [{
    `y[n] = x[n] / (||x[n]||_2 + eps)` over all non-batch dimensions
    (Forward-Forward normalises each layer's output before the next layer so
    that only the direction, not the goodness, is passed on).

    ```mlir
    %y = locus.length_normalize %x {eps = 1.0e-8 : f64} : tensor<64x128x14x14xf32> -> tensor<64x128x14x14xf32>
    ```
  }]> {
  let arguments = (ins Locus_Tensor:$input, DefaultValuedAttr<F64Attr, "1.0e-8">:$eps);
}

class Locus_Pool2DOp<string mnemonic, string sum, string desc, list<Trait> traits = []>
    : Locus_ShapedOp<mnemonic, traits> {
  let summary = sum;
  let description = desc;
  let arguments = (ins Locus_Tensor:$input, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Locus_MaxPool2DOp : Locus_Pool2DOp<"max_pool2d", "2D max pooling", [{
    Maximum over each `kernel` window moved by `strides` over the NCHW input,
    padded by `pads = [top, left, bottom, right]` with -inf (floor mode).

    ```mlir
    %y = locus.max_pool2d %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>,
           pads = array<i64: 0, 0, 0, 0>} : tensor<64x256x32x32xf32> -> tensor<64x256x16x16xf32>
    ```
  }], [Locus_DifferentiableOpInterface]>;

def Locus_ReluMaxPool2DOp : Locus_Pool2DOp<"relu_max_pool2d",
    "relu followed by 2D max pooling, in one pass", [{
    `max_pool2d(relu(x))` computed in one pass over `x`, created by
    `locus-fuse-relu-pool`: the relu output is never stored; the pooled
    output and the window arg-max carry the relu mask for the backward pass.

    ```mlir
    %y = locus.relu_max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>,
           pads = array<i64: 0, 0, 0, 0>} : tensor<64x128x28x28xf32> -> tensor<64x128x14x14xf32>
    ```
  }], [Locus_DifferentiableOpInterface]> {
  let extraClassDeclaration = [{
    /// The windows tile the static NCHW input: kernel = stride, no padding
    /// (locusc compiles static-shape kernels for such layers).
    bool windowsTileInput();
    /// They tile it and leave no row or column past the last window (the
    /// kernels without an arg-max exist for such layers only).
    bool windowsCoverInput();
  }];
}

def Locus_ConvReluMaxPool2DOp : Locus_ShapedOp<"conv_relu_max_pool2d",
    [DeclareOpInterfaceMethods<Locus_DifferentiableOpInterface, ["getTrainableOperands"]>]> {
  let summary = "2D convolution, relu and max pooling in one pass";
  let description = [{
    `max_pool2d(relu(conv2d(x, w, b)))` with the convolution's `strides`,
    `pads` and `dilations` and the pool's `pool_kernel`, `pool_strides` and
    `pool_pads`, created by `locus-fuse-conv-relu-pool`. The convolution
    output is never stored: each pooling window is computed and reduced at
    once, and the pooled output with the window arg-max carries what the
    weight gradient needs (the relu mask and where each window's maximum
    was). The fusion is only made where no gradient with respect to `x` is
    needed, so the op has parameter adjoints only.

    ```mlir
    %y = locus.conv_relu_max_pool2d %x, %w, %b {strides = array<i64: 1, 1>,
           pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>,
           pool_kernel = array<i64: 2, 2>, pool_strides = array<i64: 2, 2>,
           pool_pads = array<i64: 0, 0, 0, 0>}
           : (tensor<64x1x28x28xf32>, tensor<128x1x3x3xf32>, tensor<128xf32>)
           -> tensor<64x128x14x14xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$input, Locus_Tensor:$weight,
                       Optional<Locus_Tensor>:$bias,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations,
                       DenseI64ArrayAttr:$pool_kernel, DenseI64ArrayAttr:$pool_strides,
                       DenseI64ArrayAttr:$pool_pads);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Locus_AvgPool2DOp : Locus_Pool2DOp<"avg_pool2d", "2D average pooling", [{
    Mean over each `kernel` window moved by `strides` (floor mode; padding
    counts towards the divisor only with `count_include_pad`). The loss
    pooling of CLAPP++ is an avg_pool2d whose stride equals its kernel.

    ```mlir
    %y = locus.avg_pool2d %x {kernel = array<i64: 4, 4>, strides = array<i64: 4, 4>,
           pads = array<i64: 0, 0, 0, 0>} : tensor<64x128x32x32xf32> -> tensor<64x128x8x8xf32>
    ```
  }], [Locus_DifferentiableOpInterface]> {
  let arguments = (ins Locus_Tensor:$input, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DefaultValuedAttr<BoolAttr, "false">:$count_include_pad);
}

def Locus_GlobalAvgPoolOp : Locus_UnaryOp<"global_avg_pool",
    "average over all spatial positions", [{
    `y[n,c,1,1] = mean_{h,w} x[n,c,h,w]`.

    ```mlir
    %y = locus.global_avg_pool %x : tensor<64x1024x2x2xf32> -> tensor<64x1024x1x1xf32>
    ```
  }]>;

def Locus_FlattenOp : Locus_ShapedOp<"flatten"> {
  let summary = "collapse dimensions into a matrix";
  let description = [{
    ONNX `Flatten`: the dimensions before `axis` become the rows, the rest
    the columns (row-major, so channel-major for NCHW).

    ```mlir
    %y = locus.flatten %x {axis = 1 : i64} : tensor<64x256x7x7xf32> -> tensor<64x12544xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$input, DefaultValuedAttr<I64Attr, "1">:$axis);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Locus_ReshapeOp : Locus_ShapedOp<"reshape"> {
  let summary = "reinterpret a tensor with another shape";
  let description = [{
    Row-major reshape to `shape`, following ONNX `Reshape`: one entry may be
    -1 (inferred) and 0 copies the input dimension.

    ```mlir
    %y = locus.reshape %x {shape = array<i64: 64, -1>} : tensor<64x256x7x7xf32> -> tensor<64x12544xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Locus_LinearOp : Locus_ShapedOp<"linear"> {
  let summary = "fully connected layer (GEMM with bias)";
  let description = [{
    `y = x W^T + b` with `W` of shape [out, in] (PyTorch's layout, ONNX `Gemm`
    with transB = 1), or `y = x W + b` with `W` [in, out] when
    `transpose_weight = false` (ONNX `MatMul` / `Gemm` with transB = 0).

    ```mlir
    %y = locus.linear %x, %w, %b {transpose_weight = true} : (tensor<64x512xf32>,
           tensor<10x512xf32>, tensor<10xf32>) -> tensor<64x10xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$input, Locus_Tensor:$weight,
                       Optional<Locus_Tensor>:$bias,
                       DefaultValuedAttr<BoolAttr, "true">:$transpose_weight);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Locus_AddOp : Locus_ShapedOp<"add", [Commutative]> {
  let summary = "element-wise sum of two tensors of the same shape";
  let description = [{
    ```mlir
    %y = locus.add %a, %b : tensor<64x256x8x8xf32>, tensor<64x256x8x8xf32> -> tensor<64x256x8x8xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$lhs, Locus_Tensor:$rhs);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)";
}

def Locus_ConcatOp : Locus_ShapedOp<"concat"> {
  let summary = "concatenate tensors along one axis";
  let description = [{
    All inputs have the same rank and agree on every dimension but `axis`
    (1, the channels, for feature maps).

    ```mlir
    %y = locus.concat %a, %b {axis = 1 : i64} : (tensor<64x128x8x8xf32>, tensor<64x64x8x8xf32>) -> tensor<64x192x8x8xf32>
    ```
  }];
  let arguments = (ins Variadic<Locus_Tensor>:$inputs,
                       DefaultValuedAttr<I64Attr, "1">:$axis);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, results)";
}

//===----------------------------------------------------------------------===//
// Local learning structure
//===----------------------------------------------------------------------===//

def Locus_LocalLossOp : Locus_ShapedOp<"local_loss"> {
  let summary = "marks a learning block's output and its local loss";
  let description = [{
    The value passed through is the output `h^l` of learning block `block`:
    everything computed from the previous block's output (or the network
    input) up to here belongs to this block, and `loss` is the rule that
    trains it. The result is the input itself; later blocks consume it, so
    the marker also orders the blocks.

    The verifier checks the rule against the network: the loss pooling kernel
    must fit the block's feature map, a direct-feedback context must come from
    a later block, and block names are unique.

    ```mlir
    %h1 = locus.local_loss "block1" %r1 {loss = #locus.loss<rule = "clapp++",
            score = bilinear, f = hinge, form = contrastive, projection = trainable,
            context = same, pool = 4, negatives = next, mode = local>}
            : tensor<64x128x32x32xf32> -> tensor<64x128x32x32xf32>
    ```
  }];
  let arguments = (ins StrAttr:$block, Locus_Tensor:$input, Locus_LossAttr:$loss);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$block $input attr-dict `:` type($input) `->` type($result)";
}

def Locus_BlockOp : Locus_Op<"block"> {
  let summary = "a learning block: the ops one local rule trains";
  let description = [{
    Created by `locus-partition-blocks` from the flat network: the body holds
    every op that computes the block's output from its input (the previous
    block's output, or the network input), ending in the block's
    `locus.local_loss` marker. Parameters are used from above; activations
    never are, so that the runtime can free a block's tensors before the next
    block runs.

    ```mlir
    %h1 = locus.block "block1"(%x) : tensor<64x1x28x28xf32> -> tensor<64x128x14x14xf32> {
    ^bb0(%in: tensor<64x1x28x28xf32>):
      %c = locus.conv2d %in, %w, %b {...} : (...) -> tensor<64x128x28x28xf32>
      ...
      %h = locus.local_loss "block1" %p {loss = #locus.loss<...>} : ...
      locus.yield %h : tensor<64x128x14x14xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$name, Locus_Tensor:$input);
  let results = (outs Locus_Tensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $name `(` $input `)` attr-dict `:` type($input) `->` type($result) $body
  }];
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name, "::mlir::Value":$input,
                                 "::mlir::Type":$resultType)>];
  let extraClassDeclaration = [{
    /// The block's local_loss marker (the op its yield returns).
    LocalLossOp getMarker();
  }];
}

def Locus_YieldOp : Locus_Op<"yield", [Pure, Terminator, HasParent<"BlockOp">]> {
  let summary = "returns a learning block's output";
  let description = [{
    ```mlir
    locus.yield %h : tensor<64x128x14x14xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

//===----------------------------------------------------------------------===//
// A block's loss, expanded from its rule (locus-expand-rules)
//===----------------------------------------------------------------------===//

def Locus_LossScalar : 0DTensorOf<[F32]>;

def Locus_LossPoolOp : Locus_Op<"loss_pool", [Pure]> {
  let summary = "the pooled, flattened block output z^l a loss compares";
  let description = [{
    `z = flatten(avgpool(kernel, stride kernel)(h))`, channel-major, so
    `D = C * floor(H/k) * floor(W/k)`; `kernel = 0` is the global average
    (`D = C`) and `kernel = -1` no pooling (`D = C*H*W`).

    ```mlir
    %z = locus.loss_pool %h {kernel = 7 : i64} : tensor<64x128x14x14xf32> -> tensor<64x512xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$input, I64Attr:$kernel);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Locus_LossContextOp : Locus_Op<"loss_context", [Pure]> {
  let summary = "the detached, pooled output of a later block (direct feedback)";
  let description = [{
    The context `c = stopgrad(z^m)` of a direct-feedback rule: the output of
    block `block`, pooled with `kernel` like `locus.loss_pool`, from the
    forward-only pass the runtime runs before the block steps. It has no
    operand because no gradient flows back into the other block.

    ```mlir
    %c = locus.loss_context "block6" {kernel = 4 : i64} : tensor<64x4096xf32>
    ```
  }];
  let arguments = (ins StrAttr:$block, I64Attr:$kernel);
  let results = (outs Locus_Tensor:$result);
  let assemblyFormat = "$block attr-dict `:` type($result)";
}

def Locus_BilinearLossOp : Locus_Op<"bilinear_loss", [Pure]> {
  let summary = "the bilinear rules' loss of z against a detached context";
  let description = [{
    `u_pos[r] = z[(r+N/2) mod N] . (B c[r])`, `u_neg[r]` with the rule's
    negatives, then `f` in Form 2 (`f(u_pos) + f(-u_neg)`) or Form 1
    (`f(u_pos - u_neg)`), averaged over rows and scaled by `weight`, all as
    the attribute `loss` gives them. `context` is not differentiated (it may
    be `z` itself: CLAPP++'s lateral context). Without `projection`, B is
    the identity.

    ```mlir
    %L = locus.bilinear_loss %z, %z, %B {loss = #locus.loss<...>}
           : tensor<64x512xf32>, tensor<64x512xf32>, tensor<512x512xf32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$z, Locus_Tensor:$context,
                       Optional<Locus_Tensor>:$projection, Locus_LossAttr:$loss);
  let results = (outs Locus_LossScalar:$result);
  let assemblyFormat = [{
    $z `,` $context (`,` $projection^)? attr-dict `:` type($z) `,` type($context)
    (`,` type($projection)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Locus_GoodnessLossOp : Locus_Op<"goodness_loss", [Pure]> {
  let summary = "Forward-Forward's or SCFF's goodness loss on the block output";
  let description = [{
    The rows of `output` are positives then negatives (hybrid images for FF,
    `[x, roll(x)]` pairs for SCFF, which the runtime puts below the views).
    FF: `G = sum y^2` per row, `softplus(theta - G_pos) + softplus(G_neg -
    theta)`; SCFF: `G = mean_c relu(y)^2` per location, `softplus(th1 -
    G_pos) + softplus(G_neg - th2) + lambda mean ||G_pos||`.

    ```mlir
    %L = locus.goodness_loss %h {loss = #locus.loss<...>} : tensor<64x128x14x14xf32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$output, Locus_LossAttr:$loss);
  let results = (outs Locus_LossScalar:$result);
  let assemblyFormat = "$output attr-dict `:` type($output) `->` type($result)";
}

def Locus_InfoNceLossOp : Locus_Op<"infonce_loss", [Pure]> {
  let summary = "BP-InfoNCE: NT-Xent on cosine scores of a projection head";
  let description = [{
    `p = z W^T`; cosine similarities of all row pairs divided by the
    temperature; the positive of row r is the other view, every other row a
    negative; the mean cross-entropy over rows.

    ```mlir
    %L = locus.infonce_loss %z, %W {loss = #locus.loss<...>}
           : tensor<64x1024xf32>, tensor<1024x1024xf32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$z, Locus_Tensor:$head, Locus_LossAttr:$loss);
  let results = (outs Locus_LossScalar:$result);
  let assemblyFormat = "$z `,` $head attr-dict `:` type($z) `,` type($head) `->` type($result)";
}

def Locus_LossSumOp : Locus_Op<"loss_sum", [Pure]> {
  let summary = "the sum of a block's loss terms (CLAPP++both)";
  let description = [{
    ```mlir
    %L = locus.loss_sum %Lfb, %Llat : tensor<f32>, tensor<f32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Variadic<Locus_LossScalar>:$terms);
  let results = (outs Locus_LossScalar:$result);
  let assemblyFormat = "$terms attr-dict `:` type($terms) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// The block step: gradients and updates (locus-derive-block-gradients)
//===----------------------------------------------------------------------===//

def Locus_LossGradOp : Locus_Op<"loss_grad", [Pure]> {
  let summary = "dL/dh of the block's loss, with the loss's own update";
  let description = [{
    The fused loss step of a learning block: for the loss `loss` (the
    `locus.bilinear_loss`, `locus.goodness_loss`, `locus.infonce_loss` or
    `locus.loss_sum` that `locus-expand-rules` built from the block's rule)
    it computes the loss pooling, the scores and the loss, returns `dL/dh`
    for the block output `h`, and updates the loss's own parameters (B, B_lat,
    the InfoNCE head) in the same step, without forming their gradients.

    ```mlir
    %dh = locus.loss_grad %L : tensor<f32> -> tensor<64x128x14x14xf32>
    ```
  }];
  let arguments = (ins Locus_LossScalar:$loss);
  let results = (outs Locus_Tensor:$grad);
  let assemblyFormat = "$loss attr-dict `:` type($loss) `->` type($grad)";
  let hasVerifier = 1;
}

def Locus_OutputGradOp : Locus_Op<"output_grad", [Pure]> {
  let summary = "dL/dh arriving from the block above (global mode)";
  let description = [{
    In global mode (BP-CLAPP++, BP-InfoNCE) only the top block has a loss;
    every other block's backward pass starts from the gradient that the block
    above computed for its input (`locus.input_grad`).

    ```mlir
    %dh = locus.output_grad : tensor<64x128x16x16xf32>
    ```
  }];
  let results = (outs Locus_Tensor:$grad);
  let assemblyFormat = "attr-dict `:` type($grad)";
}

def Locus_VjpOp : Locus_Op<"vjp", [Pure]> {
  let summary = "adjoint of a block op with respect to its data input";
  let description = [{
    `dL/dx` for the op defining `value` (`x` its data operand), given
    `dL/dvalue`. The op must implement DifferentiableOpInterface; the
    runtime reads what it kept from the forward pass (the conv weights, the
    relu output, the pooling arg-max).

    ```mlir
    %da = locus.vjp %p, %dp : tensor<64x128x14x14xf32>, tensor<64x128x14x14xf32>
            -> tensor<64x128x28x28xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$value, Locus_Tensor:$grad);
  let results = (outs Locus_Tensor:$input_grad);
  let assemblyFormat = [{
    $value `,` $grad attr-dict `:` type($value) `,` type($grad) `->` type($input_grad)
  }];
  let hasVerifier = 1;
}

def Locus_ParamVjpOp : Locus_Op<"param_vjp", [Pure]> {
  let summary = "adjoints of a block op with respect to its trainable operands";
  let description = [{
    The gradients of the op defining `value` with respect to its
    `getTrainableOperands()` (a convolution: weight, then bias), given
    `dL/dvalue`.

    ```mlir
    %dw, %db = locus.param_vjp %c, %dc : tensor<64x128x28x28xf32>, tensor<64x128x28x28xf32>
                 -> tensor<128x1x3x3xf32>, tensor<128xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$value, Locus_Tensor:$grad);
  let results = (outs Variadic<Locus_Tensor>:$param_grads);
  let assemblyFormat = [{
    $value `,` $grad attr-dict `:` type($value) `,` type($grad) `->` type($param_grads)
  }];
  let hasVerifier = 1;
}

def Locus_UpdateOp : Locus_Op<"update",
    [MemoryEffects<[MemWrite]>, AllTypesMatch<["param", "grad"]>]> {
  let summary = "applies a parameter's gradient with the step's optimizer";
  let description = [{
    The optimizer update of `param` (a `locus.param`) from `grad`, in the
    block step where the gradient is computed, so that the gradient dies
    there. The optimizer (AdamW, SGD with momentum, LARS) and the learning-
    rate schedule are chosen when the binary runs; their element loops are
    the kernels of `locus-generate-update-kernels`.

    ```mlir
    locus.update %w, %dw : tensor<128x1x3x3xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$param, Locus_Tensor:$grad);
  let assemblyFormat = "$param `,` $grad attr-dict `:` type($param)";
  let hasVerifier = 1;
}

def Locus_InputGradOp : Locus_Op<"input_grad", [MemoryEffects<[MemWrite]>]> {
  let summary = "hands dL/dx to the block below (global mode)";
  let description = [{
    Global mode only: the gradient with respect to the block input, which
    the block below starts its backward pass from (`locus.output_grad`). A
    local rule never computes it.

    ```mlir
    locus.input_grad %dx : tensor<64x128x16x16xf32>
    ```
  }];
  let arguments = (ins Locus_Tensor:$grad);
  let assemblyFormat = "$grad attr-dict `:` type($grad)";
}

#endif // LOCUS_OPS_TD
