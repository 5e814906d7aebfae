//===- StepCalls.h - what a generated step program calls ---------*- C++ -*-===//
//
// locusc lowers every block step to a function (locus-lower-to-step,
// lib/Conversion/LocusToStep) that calls, in order, the entries below: the
// backend's primitives (convolutions, GEMMs, the fused B update) and
// launches of generated kernels (activations, poolings, the loss pooling),
// and calls the generated loss kernels itself (abi/LossKernels.h). Each entry
// is one call on the runtime's current Backend; the runtime holds no rule:
// which calls run, in which order, on which buffers, is the compiler's. The program's buffers are views into one arena whose offsets
// the compiler planned (locus-plan-arena).
//
// Calls are C functions with MLIR's C interface (`_mlir_ciface_` + name,
// memref arguments as pointers to descriptors, dynamic shapes). `ctx` is
// the runtime's step context, opaque to the program. Parameters are named by
// their index in the model descriptor; `-1` is "none" (a conv without bias).
// Windows are (kh, kw, sh, sw, pad top, left, bottom, right).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_STEPCALLS_H
#define LOCUS_RUNTIME_ABI_STEPCALLS_H

#include <cstdint>

namespace locus::abi {

/// A memref<?x?x?x?xT> or memref<?x?xT> descriptor (MLIR's layout).
template <typename T, int Rank> struct MemRefDesc {
  T *allocated, *aligned;
  int64_t offset, sizes[Rank], strides[Rank];
  T *data() const { return aligned + offset; }
  int64_t count() const {
    int64_t n = 1;
    for (int i = 0; i < Rank; ++i)
      n *= sizes[i];
    return n;
  }
};
using Buf4 = MemRefDesc<float, 4>;
using Buf3 = MemRefDesc<float, 3>;
using Buf2 = MemRefDesc<float, 2>;
using Buf1 = MemRefDesc<float, 1>;
using Buf1F64 = MemRefDesc<double, 1>;
using Index4 = MemRefDesc<int32_t, 4>;
using Index1 = MemRefDesc<int32_t, 1>;
using Bytes = MemRefDesc<uint8_t, 1>;

/// The step program's version (of its calls and of StepProgram); the runtime
/// refuses another. Raise it with every change of either.
constexpr int64_t kStepProgramVersion = 10;

/// The generated entry points of a model (the model record's `program`,
/// abi/Model.h). Each entry point runs the
/// whole training step on `views` [N, C, H, W] with buffers in `arena`
/// (`arena*Bytes` long, 64-byte aligned):
///   trainFused  AdamW: B updated from its gradient's factors in the loss;
///   train       every gradient formed and handed to locus_rt_apply_gradient
///               (SGD, LARS, gradient checks);
///   evaluate    forward and losses only (held-out loss);
///   features    the frozen encoder's features of N images into out [N, F]
///               (every block's output pooled with its loss kernel, in
///               block order: the linear probe's input).
/// With the arenas the record carries the rest of the compiler's one memory
/// plan (locus-plan-memory): the bytes resident for the whole run
/// (parameters, optimizer state, the views buffer) for each optimizer
/// setting, and the largest workspace the backend's primitives need. The
/// binary's planned peak is resident + workspace + its arena.
struct StepProgram {
  int64_t version;
  int64_t trainFusedArenaBytes, trainArenaBytes, evaluateArenaBytes, featuresArenaBytes;
  int64_t residentAdamWBytes, residentAdamWBf16Bytes, residentSgdBytes, workspaceBytes;
  /// The rows every block of the training and evaluation entries runs on,
  /// per view: 1, or 2 where each view has a negative row below it (FF,
  /// SCFF); the features entry runs on the views alone.
  int64_t rowsPerView;
  void (*trainFused)(void *ctx, Buf4 *views, Bytes *arena);
  void (*train)(void *ctx, Buf4 *views, Bytes *arena);
  void (*evaluate)(void *ctx, Buf4 *views, Bytes *arena);
  void (*features)(void *ctx, Buf4 *images, Buf2 *out, Bytes *arena);
};

} // namespace locus::abi

// The calls, as the runtime defines them (runtime/src/train/StepCalls.cpp).
extern "C" {
using locus::abi::Buf1;
using locus::abi::Buf1F64;
using locus::abi::Buf2;
using locus::abi::Buf3;
using locus::abi::Buf4;
using locus::abi::Bytes;
using locus::abi::Index1;
using locus::abi::Index4;

// --- Forward. Convolutions add their bias times biasScale (SCFF's paired
// inputs: 2) and their bias gradients are scaled the same.
void _mlir_ciface_locus_rt_conv2d_forward(void *ctx, Buf4 *x, int32_t weight, int32_t bias,
                                          float biasScale, Buf4 *y, int64_t kh, int64_t kw, int64_t sh,
                                          int64_t sw, int64_t pt, int64_t pl, int64_t pb,
                                          int64_t pr);
void _mlir_ciface_locus_rt_conv_relu_pool_forward(void *ctx, Buf4 *x, int32_t weight,
                                                  int32_t bias, float biasScale, Buf4 *h,
                                                  Index4 *argmax);
void _mlir_ciface_locus_rt_relu_forward(void *ctx, Buf4 *x, Buf4 *y);
void _mlir_ciface_locus_rt_triangle_forward(void *ctx, Buf4 *x, Buf4 *y);
void _mlir_ciface_locus_rt_max_pool_forward(void *ctx, Buf4 *x, Buf4 *y, Index4 *argmax,
                                            int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                            int64_t pt, int64_t pl, int64_t pb, int64_t pr);
void _mlir_ciface_locus_rt_avg_pool_forward(void *ctx, Buf4 *x, Buf4 *y, int64_t kh, int64_t kw,
                                            int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                                            int64_t pb, int64_t pr);
void _mlir_ciface_locus_rt_relu_max_pool_forward(void *ctx, Buf4 *a, Buf4 *h, Index4 *argmax,
                                                 int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                                 int64_t pt, int64_t pl, int64_t pb,
                                                 int64_t pr);
/// Without an arg-max (windows of kh x kw that tile and cover the map); its
/// adjoint, relu_max_pool_backward_in_place, writes da over a.
void _mlir_ciface_locus_rt_relu_max_pool_forward_unindexed(void *ctx, Buf4 *a, Buf4 *h,
                                                           int64_t kh, int64_t kw);

// --- The loss: its poolings, its random draws, the GEMMs around the
// generated loss kernels and the losses they wrote.
void _mlir_ciface_locus_rt_loss_pool(void *ctx, Buf4 *h, Buf4 *z, int64_t kernel);
void _mlir_ciface_locus_rt_loss_unpool(void *ctx, Buf4 *dz, Buf4 *dh, int64_t kernel);
/// In-batch random negatives of block `block` for this step (the data
/// stream's draws, seeded per step and block).
void _mlir_ciface_locus_rt_draw_negatives(void *ctx, int32_t block, Index1 *negatives);
/// The calls that follow are block `block`'s (the first call of each block
/// step: errors inside a backend call name the block).
void _mlir_ciface_locus_rt_enter_block(void *ctx, int32_t block);
/// AdamW on parameter `param` [D, Dc] from factors [N, D] and c [N, Dc].
void _mlir_ciface_locus_rt_adamw_from_factors(void *ctx, int32_t param, Buf2 *factors, Buf2 *c);
/// out[:, offset, offset + D) = z [N, D] (the features of one block).
void _mlir_ciface_locus_rt_copy_columns(void *ctx, Buf2 *z, Buf2 *out, int64_t offset);
/// c [M, N] = a [M, K] W (W [K, N]), or a W^T with `transposed` (W [N, K]).
void _mlir_ciface_locus_rt_matmul_param(void *ctx, Buf2 *a, int32_t param, int32_t transposed,
                                        Buf2 *c);
/// c [M, N] = op(a) op(b), op transposing with transA / transB: InfoNCE's
/// similarities, their adjoint and the head's gradient.
void _mlir_ciface_locus_rt_matmul(void *ctx, Buf2 *a, int32_t transA, Buf2 *b, int32_t transB,
                                  Buf2 *c);
/// A bilinear term's bc [N, D] = rows B c (B = parameter `projection`
/// [D, Dc], c [N, Dc]) and dL/dB [D, Dc] = factors^T c.
void _mlir_ciface_locus_rt_project_rows(void *ctx, Buf2 *c, int32_t projection, Buf2 *bc);
void _mlir_ciface_locus_rt_projection_gradient(void *ctx, Buf2 *factors, Buf2 *c, Buf2 *grad);
/// The step's losses: the generated loss kernels wrote each term's value
/// into its slot of `losses` (the backend's memory); blocks[i] is slot i's
/// block (-1: a slot this entry point does not write). Called once, last.
void _mlir_ciface_locus_rt_add_losses(void *ctx, Buf1F64 *losses, Index1 *blocks);

// --- The goodness rules' rows (FF, SCFF): 2N rows a block, the views (or
// their pairs) first, their negatives below. The program builds them with
// its generated input kernels (hybrid negatives, length normalisation,
// standardised pairs); the runtime only draws the random bits.
/// FF: each row's partner image (another image than its own) and its mask of
/// random bits [N * H * W], drawn from this step's stream `stream`.
void _mlir_ciface_locus_rt_draw_hybrid(void *ctx, int32_t stream, Buf1 *masks,
                                       Index1 *partners);

// --- Adjoints.
void _mlir_ciface_locus_rt_conv2d_backward_weight(void *ctx, Buf4 *x, Buf4 *dy, Buf4 *dw,
                                                  Buf1 *db, int32_t hasBias, float biasScale,
                                                  int64_t kh,
                                                  int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                                                  int64_t pl, int64_t pb, int64_t pr);
void _mlir_ciface_locus_rt_conv2d_backward_data(void *ctx, Buf4 *dy, int32_t weight, Buf4 *dx,
                                                int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                                int64_t pt, int64_t pl, int64_t pb, int64_t pr);
void _mlir_ciface_locus_rt_conv_relu_pool_backward_weight(void *ctx, Buf4 *x, Buf4 *dh, Buf4 *h,
                                                          Index4 *argmax, Buf4 *dw, Buf1 *db,
                                                          int32_t hasBias, float biasScale);
void _mlir_ciface_locus_rt_relu_backward(void *ctx, Buf4 *y, Buf4 *dy, Buf4 *dx);
void _mlir_ciface_locus_rt_triangle_backward(void *ctx, Buf4 *x, Buf4 *dy, Buf4 *dx);
void _mlir_ciface_locus_rt_max_pool_backward(void *ctx, Buf4 *dy, Index4 *argmax, Buf4 *dx);
void _mlir_ciface_locus_rt_avg_pool_backward(void *ctx, Buf4 *dy, Buf4 *dx, int64_t kh,
                                             int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                                             int64_t pl, int64_t pb, int64_t pr);
void _mlir_ciface_locus_rt_relu_max_pool_backward(void *ctx, Buf4 *dh, Buf4 *h, Index4 *argmax,
                                                  Buf4 *da, int64_t kh, int64_t kw, int64_t sh,
                                                  int64_t sw, int64_t pt, int64_t pl, int64_t pb,
                                                  int64_t pr);
void _mlir_ciface_locus_rt_relu_max_pool_backward_in_place(void *ctx, Buf4 *dh, Buf4 *aThenDa,
                                                           int64_t kh, int64_t kw);

// --- Updates: the step's optimizer (or, in a gradient check, the observer)
// on parameter `param` with its complete gradient.
void _mlir_ciface_locus_rt_apply_gradient(void *ctx, int32_t param, Buf1 *grad);
}

#endif
