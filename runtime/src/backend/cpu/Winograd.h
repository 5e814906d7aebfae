//===- Winograd.h - 3x3 convolutions by Winograd F(2x2 or 4x4, 3x3) -*- C++ -*-===//
//
// Shared by the convolution kernels (Conv.cpp), which take this path when it
// applies, and the memory plan (through conv2dWorkspaceFloats), which must
// count its scratch. No BLAS dependency in the planning half.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_WINOGRAD_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_WINOGRAD_H

#include "locus/runtime/backend/cpu/Kernels.h"

namespace locus::rt::cpu {

/// How a Winograd convolution walks its operands: output tiles of `tile` x
/// `tile` (F(2x2, 3x3), F(4x4, 3x3) or F(7x7, 3x3)), output channels in chunks of
/// `outChunk`, tiles (over the whole batch) in chunks of `tileChunk`, so its
/// scratch stays bounded for any layer size.
struct WinogradPlan {
  int64_t tile = 2;
  int64_t tilesY = 0, tilesX = 0, tiles = 0; // tiles per map, and over the batch
  int64_t outChunk = 0, tileChunk = 0;
  /// Transforms in AVX2 (where the CPU has it); tests clear it to run the
  /// scalar ones. The scratch does not depend on it.
  bool vector = false;
  /// The transformed tile's side and its positions: one GEMM each.
  int64_t alpha() const { return tile + 2; }
  int64_t positions() const { return alpha() * alpha(); }
  /// The position where P = A dY A^T holds the sum of the tile's gradient
  /// (row 1 of A is all ones for every tile size): the bias gradient.
  int64_t sumPosition() const { return alpha() + 1; }
  /// Floats between the positions' matrices of one operand. The extra cache
  /// line keeps the write streams of a transform off one cache set when
  /// rows * cols is a power of two (it often is: 1024 x 128).
  static int64_t positionStride(int64_t rows, int64_t cols) { return rows * cols + 16; }
  /// Scratch floats: transformed weights (or their gradient) of one output
  /// chunk, transformed inputs of one tile chunk, and the products.
  int64_t floats(int64_t inChannels) const {
    return positions() * (positionStride(outChunk, inChannels) +
                          positionStride(inChannels, tileChunk) +
                          positionStride(outChunk, tileChunk));
  }
};

/// Whether the shape takes the Winograd path: 3x3, stride 1, padding 1 on
/// every side, and enough channels on both sides for the transformed GEMMs
/// to pay (the first layer's 1 or 3 input channels stay with im2col).
bool winogradShape(Shape4 xs, const Window &win, int64_t outChannels);

/// winogradShape, unless LOCUS_CPU_WINOGRAD=0 turns the path off (for
/// comparisons: the plan assumes Winograd, so the im2col path's biased
/// scratch may then exceed the planned workspace by one row of the matrix).
bool winogradEnabled(Shape4 xs, const Window &win, int64_t outChannels);

/// The tile side for a map: the largest of 2, 4 and 7 whose tiles take
/// clearly fewer GEMM multiplications than the smaller ones' (cropped edge
/// tiles count in full): 7 for sides that are multiples of 7 (14, 28).
/// LOCUS_CPU_WINOGRAD=2 or =4 caps the side (for comparisons; F(7x7) rounds
/// more, WinogradF7.cpp).
int64_t winogradTile(Shape4 xs);

/// The plan with winogradTile's tile, or the one given (2, 4 or 7).
WinogradPlan winogradPlan(Shape4 xs, int64_t outChannels);
WinogradPlan winogradPlan(Shape4 xs, int64_t outChannels, int64_t tile);

/// y = conv3x3(x, w) + b (b may be null), padding 1: same as conv2dForward.
void winogradConv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                           const float *b, float *y, Workspace &ws, int64_t wsFloats);
void winogradConv2dForward(const WinogradPlan &p, const float *x, Shape4 xs, const float *w,
                           int64_t outChannels, const float *b, float *y, Workspace &ws,
                           int64_t wsFloats);

/// dw (and db unless null) = the weight gradient of the same convolution
/// for output gradient dy.
void winogradConv2dBackwardWeight(const float *x, Shape4 xs, const float *dy,
                                  int64_t outChannels, float *dw, float *db, Workspace &ws,
                                  int64_t wsFloats);
void winogradConv2dBackwardWeight(const WinogradPlan &p, const float *x, Shape4 xs,
                                  const float *dy, int64_t outChannels, float *dw, float *db,
                                  Workspace &ws, int64_t wsFloats);

} // namespace locus::rt::cpu

#endif
