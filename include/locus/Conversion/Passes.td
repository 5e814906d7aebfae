//===- Passes.td - locus conversion passes ------------------*- tablegen -*-===//
//
// From the block step program (locus ops) to target-neutral kernels in the
// nested @locus_kernels module (linalg, scf, arith, math, memref), and to the
// model descriptor with its memory plan.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_CONVERSION_PASSES_TD
#define LOCUS_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def LocusPlanMemory : Pass<"locus-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Plan the memory that lives for the whole run";
  let description = [{
    Beside the step program's arena (`locus-plan-arena`) a run keeps its
    parameters, their optimizer state (AdamW's two moments in float32 or
    bfloat16, or SGD's and LARS's one momentum buffer, for each parameter the
    step trains), the views buffer, identity projections, and the largest
    workspace of the backend's convolutions. This pass stores those bytes on
    the module (`locus.plan.resident`, `locus.plan.resident_bf16`,
    `locus.plan.resident_sgd`, `locus.plan.workspace`), at the runtime's
    64-byte allocation granularity; the object's StepProgram record carries
    them, so the binary's planned peak (resident + workspace + arena) is the
    compiler's and equals its measured peak. With `report` it prints them
    per block.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the plan as a table to stdout">
  ];
  let dependentDialects = ["::locus::LocusDialect"];
}

def LocusGenerateUpdateKernels
    : Pass<"locus-generate-update-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit the optimizer updates as linalg kernels";
  let description = [{
    The parameter update after each block's backward pass is element-wise
    over every parameter and memory-bound, so it is compiled rather than
    interpreted. This pass adds a nested module `@locus_kernels` holding one
    function per optimizer the training binary offers, each a
    `linalg.generic` over `memref<?xf32>` operands:

    - `locus_adamw_update(g, p, m, v, decay, w1, b1, b2, c2, neg_step,
      bc2_sqrt, eps)`: PyTorch's single-tensor AdamW, operation by
      operation (`m.lerp(g, w1)` picks torch's formula by `|w1| < 0.5`);
    - `locus_sgd_update(g, p, buf, wd, scale, momentum, lr)`: SGD with
      momentum, `scale` being 1 or LARS's trust ratio;
    - `locus_lars_norms(p, g, pp, gg, wd)`: adds to the float64 sums
      `||p||^2` and `||g + wd p||^2` that LARS's trust ratio needs (a
      parallel loop of atomic adds, plain adds on the CPU).

    The runtime computes the step's scalars (bias corrections, the
    scheduled learning rate) and calls the kernels on slices of each
    parameter from its thread pool. Every function carries
    `llvm.emit_c_interface`, so the runtime calls
    `_mlir_ciface_<name>` with memref descriptors. The pass fails if the
    module already holds `@locus_kernels`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusGeneratePoolKernels
    : Pass<"locus-generate-pool-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit the model's loss poolings as static-shape linalg kernels";
  let description = [{
    For every (C, H, W, k) pooling the training binary runs (each block's
    loss pooling, which the probe's features use too, the expanded losses'
    own poolings and the direct-feedback contexts), adds to `@locus_kernels`:

    - `locus_loss_pool_<C>x<H>x<W>_k<k>(h, z)`: z = the mean of each k x k
      window of h (k = 0: the whole map), as a linalg.generic reduction over
      a window operand, then a scaling;
    - `locus_loss_unpool_<C>x<H>x<W>_k<k>(dz, dh)`: dh = dz / k^2 spread over
      each window, 0 on rows and columns past the last whole window.

    Shapes are static except the batch, so the same kernels serve training
    steps and probe batches. The object emitter lists them in the table
    `locus_loss_pool_kernels` that the runtime looks poolings up in.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

def LocusGenerateReluPoolKernels
    : Pass<"locus-generate-relu-pool-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit the blocks' relu + max-pool epilogues as static-shape linalg kernels";
  let description = [{
    For every (C, H, W, kh, kw) of a `locus.relu_max_pool2d` whose window
    tiles the map (kernel = stride, no padding), adds to `@locus_kernels`:

    - `locus_relu_max_pool_<C>x<H>x<W>_k<kh>x<kw>(a, h, argmax)`:
      h = max(0, max of each window of a), argmax = the position of that
      maximum inside its window (ki * kw + kj, i32; 0 where h = 0), a max
      that starts from 0 (relu(max(a)) = max(relu(a)));
    - `locus_relu_max_unpool_<C>x<H>x<W>_k<kh>x<kw>(dh, h, argmax, da)`:
      da = dh at each window's arg-max where h > 0, else 0; the adjoint's
      scatter written as a gather in row order.

    Both are scf loops over (n, c, row) around vector-dialect code along
    the row: contiguous loads of up to 8 windows, vector.shuffle to split
    (forward) or repeat (backward) the window columns, contiguous stores.

    Shapes are static except the batch. The object emitter lists the pairs
    in the table `locus_relu_pool_kernels`; the runtime's general kernel
    serves the other windows, and the training binary's log says which ran.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def LocusGenerateLossKernels
    : Pass<"locus-generate-loss-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit the bilinear rules' scores, loss and gradient as kernels";
  let description = [{
    For every (f, form, negatives) of a `locus.bilinear_loss` in the module
    adds to `@locus_kernels`:

    - `locus_bilinear_loss_<f>_<form>_<negatives>(z, bc, neg, dz, factors,
      loss, theta, weight, accumulate)`: for the rows r of z [N, D] and
      bc [N, D] (bc[r] = B c[r], a backend GEMM), the scores
      u_pos[r] = z[(r + N/2) mod N] . bc[r] and u_neg[r] (the next row's
      positive, or the drawn row neg[r]), the loss
      weight / N * sum_r f-term (hinge, softplus, linear or logistic, in
      Form 2 or PhyLL's Form 1) into `loss` (float64), dL/dz into dz (added
      to it when `accumulate`), and the row factors of dL/dB
      (dL/dB = factors^T c, which the backend forms or feeds straight into
      AdamW on B).

    Scores and the loss accumulate in float64, as the hinge's kink needs.
    Shapes are dynamic: one kernel serves every block and batch. The object
    emitter lists the kernels in the table `locus_bilinear_loss_kernels`,
    by name, where the runtime finds each block's. InfoNCE and the goodness
    losses are not bilinear and get their own passes; a bilinear loss with FF's
    or SCFF's negatives is an error naming the op.

    With `all-variants` every (f, form, negatives) the bilinear rules define
    gets a kernel, used or not: for the runtime's tests and benchmarks, which
    switch rules at run time over one compiled object.
  }];
  let options = [
    Option<"allVariants", "all-variants", "bool", /*default=*/"false",
           "Emit the kernel of every bilinear loss, not only the module's">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusGenerateGoodnessKernels
    : Pass<"locus-generate-goodness-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit Forward-Forward's and SCFF's goodness losses as kernels";
  let description = [{
    For every goodness score of a `locus.goodness_loss` in the module adds
    to `@locus_kernels`
    `locus_goodness_loss_<score>(pos, neg, dpos, dneg, loss, theta, theta2,
    lambda, weight)` on the positive and negative halves of the block output
    as [M, C, H*W] (dynamic shapes):

    - `sum_squares` (FF): G = sum y^2 per row, the loss
      1/M sum softplus(theta - G_pos) + softplus(G_neg - theta) and dL/dy;
    - `mean_relu_squares` (SCFF): G = mean_c relu(a)^2 per location, the
      loss softplus(th1 - G_pos) + softplus(G_neg - th2) averaged over samples
      and locations plus lambda mean_m ||G_pos[m]||, and dL/da.

    Goodness sums and the loss run in float64 in a fixed order; the loss and
    the gradients are scaled by `weight`. The object emitter lists the
    kernels by name in the table `locus_goodness_loss_kernels`. With
    `all-variants` both kernels are emitted, used or not.
  }];
  let options = [
    Option<"allVariants", "all-variants", "bool", /*default=*/"false",
           "Emit both goodness kernels, not only the module's">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusGenerateInfoNceKernels
    : Pass<"locus-generate-infonce-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit BP-InfoNCE's NT-Xent loss and gradient as a kernel";
  let description = [{
    If the module has a `locus.infonce_loss`, adds to `@locus_kernels`
    `locus_infonce_loss(p, dp, loss, temperature, weight)`: on the projections
    p [N, D] (p = z W^T, a backend GEMM), the cosine similarities divided by
    the temperature, each row's cross-entropy against its other view with
    every other row a negative, their mean (times `weight`) into `loss`
    and dL/dp into dp. The head's gradients (dz = dp W, dW = dp^T z) are
    backend GEMMs after it. The object emitter lists it in the table
    `locus_infonce_loss_kernels`. With `all-variants` it is emitted even
    without an InfoNCE loss.
  }];
  let options = [
    Option<"allVariants", "all-variants", "bool", /*default=*/"false",
           "Emit the kernel even if the module has no InfoNCE loss">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusGenerateActivationKernels
    : Pass<"locus-generate-activation-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit relu and triangle, forward and adjoint, as kernels";
  let description = [{
    Adds to `@locus_kernels` four kernels with dynamic shapes, for every
    model (the runtime calls them per slice of the batch from its threads):

    - `locus_relu_forward(x, y)` and `locus_relu_backward(y, dy, dx)` on flat
      buffers: y = max(x, 0), dx = dy where y > 0;
    - `locus_triangle_forward(x, y)` and `locus_triangle_backward(x, dy, dx)`
      on [N, C, H*W]: y = relu(x - mean_c x), and its adjoint
      dx = t - mean_c t with t = dy where x - mean_c x > 0.

    Channel means are float32 sums in channel order. dx may alias dy. The
    object emitter exports them as the record `locus_activation_kernels`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusGeneratePrecisionKernels
    : Pass<"locus-generate-precision-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit the float32 <-> bfloat16 conversions as kernels";
  let description = [{
    Adds to `@locus_kernels` two kernels on flat buffers, for every model
    (`--precision bf16` runs the convolutions on bfloat16 copies of their
    float32 operands):

    - `locus_f32_to_bf16(x, bits)`: x rounded to the nearest bfloat16, ties
      to even, as i16 bits; a NaN stays a quiet NaN of the same sign;
    - `locus_bf16_to_f32(bits, y)`: the bfloat16 widened to float32 (exact);
    - `locus_bf16_add_to_f32(bits, y)`: y += the widened bfloat16 (a weight
      gradient summed over row chunks in float32).

    The rounding is integer arithmetic, the same bits on every target. The
    object emitter exports them as the record `locus_precision_kernels`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusGeneratePoolingKernels
    : Pass<"locus-generate-pooling-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit max and average pooling, forward and adjoint, as kernels";
  let description = [{
    Adds to `@locus_kernels` four kernels with dynamic shapes and the window
    (kh, kw, sh, sw, pt, pl) as arguments, on planes [N C, H, W], for every
    model (the runtime calls them per plane from its threads):

    - `locus_max_pool_forward(x, y, argmax, window, base, relu)`: the window
      maxima (padding is -inf, NaN wins, the first maximum stays) and their
      flat indices (plus `base`), relu applied to the maxima when `relu`;
    - `locus_max_pool_backward(dy, h, argmax, dx, base, relu)`: dx = 0 and
      dy added at each arg-max (only where h > 0 when `relu`);
    - `locus_avg_pool_forward(x, y, window)`: the window means (column sums
      over the rows, then across the columns, in float32);
    - `locus_avg_pool_backward(dy, y, dx, window, relu)`: dx = 0 and
      dy / (kh kw) added over each window, then zero where y <= 0 when `relu`.

    They serve the poolings the static relu + max-pool and loss-pool kernels
    do not (overlapping or padded windows, no relu, other maps). The object
    emitter exports them as the record `locus_pooling_kernels`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusGenerateGoodnessInputKernels
    : Pass<"locus-generate-goodness-input-kernels", "::mlir::ModuleOp"> {
  let summary = "Emit FF's hybrid negatives and FF's and SCFF's block inputs as kernels";
  let description = [{
    Adds to `@locus_kernels`, for every model, the input transforms of the
    goodness rules (METHOD.md section 1), with dynamic shapes:

    - `locus_hybrid_negatives(views, masks, partners, out)`: out = [views;
      hybrids], each hybrid mixing its view with the partner row through its
      mask of random bits blurred six times with [1/4, 1/2, 1/4] both ways
      and thresholded at 1/2 (FF; the runtime draws bits and partners);
    - `locus_length_normalize_rows(x, y)`: each row over its norm + 1e-5 (FF,
      blocks after the first);
    - `locus_standardize_pairs(x, st, y, pairs)`: standardised rows st and
      y = [st + st; st + roll(st)] (SCFF; only st + st without pairs).

    Norms and moments are float64 sums. The object emitter exports them as
    the record `locus_goodness_input_kernels`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

//===----------------------------------------------------------------------===//
// The step program (lib/Conversion/LocusToStep)
//===----------------------------------------------------------------------===//

def LocusLowerToStep : Pass<"locus-lower-to-step", "::mlir::ModuleOp"> {
  let summary = "Lower the block steps to the step program: calls on buffers";
  let description = [{
    Turns the network's block steps (forward ops, loss ops, `locus.vjp`,
    `locus.param_vjp`, `locus.update`, as locus-derive-block-gradients left
    them) into four functions in `@locus_kernels`, the entry points of the
    training step (runtime/include/locus/runtime/abi/StepCalls.h):
    `locus_train_fused_step` (AdamW, B updated from its gradient's factors
    without forming dL/dB), `locus_train_step` (every gradient formed and
    applied: SGD, LARS, gradient checks), `locus_evaluate_step` (forward
    and losses) and `locus_features_step` (the probe's features into an
    extra `out: memref<NxFxf32>`). Each is `(ctx: !llvm.ptr, views:
    memref<NxCxHxWxf32>, [out,] arena: memref<?xi8>)`: a direct-feedback
    rule's forward-only pass that pools the contexts first, then one
    `scf.execute_region` per block (`locus.block_step`, named by
    `locus.step_function`) holding the block's calls of `locus_rt_*` (the
    backend's primitives and generated kernels) on `memref.alloc` buffers
    in order; updates follow the block's backward pass. Buffers that cross
    blocks (a block's output, the pooled contexts) are allocated outside the
    regions. Global mode (BP-CLAPP++, BP-InfoNCE): a forward region per
    block, whose buffers all live outside the regions, then backward regions
    from the top block down, then the updates. FF and SCFF: every block on
    2N rows, with FF's hybrid negatives and normalised inputs and SCFF's
    standardised pairs and doubled bias built by the program.
    locus-plan-arena then places every buffer in the arena and
    locus-outline-block-steps makes each region a function.

    A model the program cannot express (blocks whose goodness rules
    disagree, a goodness rule in global mode, an op no call covers) is an
    error at its block: the training binary runs only step programs.

    With `factor-update=false` (the CUDA target, whose backend has no fused
    update from the factors), the fused variant forms dL/dB in the arena
    (`locus_rt_projection_gradient`) and hands it to the optimizer at once
    (`locus_rt_apply_gradient`), so the memory plan holds it.
  }];
  let options = [
    Option<"factorUpdate", "factor-update", "bool", /*default=*/"true",
           "In locus_train_fused_step, update B by AdamW from the loss's row "
           "factors (locus_rt_adamw_from_factors) instead of forming dL/dB">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def LocusPlanArena : Pass<"locus-plan-arena", "::mlir::ModuleOp"> {
  let summary = "Place the step program's buffers in one arena by liveness";
  let description = [{
    For every step entry point in `@locus_kernels` (a function with
    `locus.step_entry`): numbers its ops in execution order, gives every
    `memref.alloc` the interval from its definition to its last use
    (through `memref.cast`, `memref.collapse_shape` and
    `memref.expand_shape` views, and inside the block regions), and places
    the buffers largest first at the lowest 64-byte aligned offset that no
    overlapping interval occupies. Each alloc becomes a `memref.view` of the
    function's arena argument at its offset; the arena's size is stored as
    `locus.arena_bytes` on the function. This is the memory plan of the
    step: the runtime allocates exactly that arena and nothing in the step.
    Fails on an alloc with dynamic sizes or outside an entry point. With
    `report` it prints each entry point's arena and the peak the training
    binary plans and measures: the resident bytes and the convolutions'
    workspace (`locus.plan.resident`, `locus.plan.workspace`, from
    locus-plan-memory) plus the arena.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the arena plan to stdout">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

def LocusOutlineBlockSteps : Pass<"locus-outline-block-steps", "::mlir::ModuleOp"> {
  let summary = "Make each block region of the step program its own function";
  let description = [{
    Moves the body of every `scf.execute_region` marked `locus.block_step`
    into a function `@<entry>_<block index>` with the entry point's
    arguments (ctx, views, arena) and replaces the region with a call, so
    that the step program is one function per block and one for the whole
    step. Runs after locus-plan-arena: the regions' buffers are views of the
    arena, which the outlined function rebuilds from its own argument.
  }];
  let dependentDialects = [
    "::mlir::func::FuncDialect",
    "::mlir::memref::MemRefDialect",
  ];
}

#endif // LOCUS_CONVERSION_PASSES_TD
