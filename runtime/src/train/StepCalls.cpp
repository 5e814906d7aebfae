//===- StepCalls.cpp - the step program's calls onto the Backend ----------===//
//
// Every entry of abi/StepCalls.h: unpack the memref descriptors into the
// Backend's pointers and shapes and make the one Backend call. No entry
// decides anything about a rule; what runs, in which order, on which
// buffers, is the compiled program's.
//
//===----------------------------------------------------------------------===//
#include "StepContext.h"

#include "locus/runtime/abi/StepCalls.h"
#include "locus/runtime/train/Random.h"

#include <cstring>

namespace locus::rt::train {

void StepContext::applyGradient(int32_t index, float *grad, int64_t count) const {
  if (observer) {
    (*observer)(index, Tensor::borrowed(grad, Shape4{count, 1, 1, 1}));
    return;
  }
  engine->updateOne(index, grad);
}

void StepContext::adamwFromFactors(int32_t index, int64_t rows, int64_t cols, int64_t k,
                                   const float *factors, const float *c) const {
  backend->adamwFromFactors(engine->scheduledAdamW(index), engine->steps_, rows, cols, k, factors, c,
                            param(index), engine->momentsOf(index));
}

} // namespace locus::rt::train

using locus::rt::Backend;
using locus::rt::Shape4;
using locus::rt::Window;
using locus::rt::train::StepContext;

namespace {

StepContext &context(void *ctx) { return *static_cast<StepContext *>(ctx); }

Shape4 shape(const Buf4 *b) { return Shape4{b->sizes[0], b->sizes[1], b->sizes[2], b->sizes[3]}; }

Window window(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb,
              int64_t pr) {
  return Window{kh, kw, sh, sw, pt, pl, pb, pr};
}

const float *optionalParam(const StepContext &c, int32_t index) {
  return index >= 0 ? c.param(index) : nullptr;
}

/// The block's first loss term sets its entry (NaN until then: a block the
/// program computes no loss for, below the top in global mode, keeps NaN),
/// later ones (CLAPP++both's second term) add to it.
void addLoss(StepContext &c, int32_t block, double value) {
  double &entry = (*c.losses)[block];
  entry = c.lossSeen[block] ? entry + value : value;
  c.lossSeen[block] = 1;
}

/// Runs `call` with the convolution's weight named as the step's layer.
template <typename Call> void inLayer(StepContext &c, int32_t weight, Call call) {
  Backend::StepPlace place = c.place;
  place.layer = c.engine->model().params[static_cast<size_t>(weight)].name.c_str();
  c.backend->setPlace(place);
  call();
  c.backend->setPlace(c.place);
}

} // namespace

extern "C" {

void _mlir_ciface_locus_rt_enter_block(void *ctx, int32_t block) {
  StepContext &c = context(ctx);
  c.place = Backend::StepPlace{c.engine->model().blocks[static_cast<size_t>(block)].name.c_str(),
                               nullptr};
  c.backend->setPlace(c.place);
}

void _mlir_ciface_locus_rt_conv2d_forward(void *ctx, Buf4 *x, int32_t weight, int32_t bias,
                                          float biasScale, Buf4 *y, int64_t kh, int64_t kw,
                                          int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                                          int64_t pb, int64_t pr) {
  StepContext &c = context(ctx);
  inLayer(c, weight, [&] {
    c.backend->conv2dForward(x->data(), shape(x), c.param(weight), y->sizes[1],
                             optionalParam(c, bias), biasScale,
                             window(kh, kw, sh, sw, pt, pl, pb, pr), y->data());
  });
}

void _mlir_ciface_locus_rt_conv_relu_pool_forward(void *ctx, Buf4 *x, int32_t weight,
                                                  int32_t bias, float biasScale, Buf4 *h,
                                                  Index4 *argmax) {
  StepContext &c = context(ctx);
  inLayer(c, weight, [&] {
    c.backend->convReluPoolForward(x->data(), shape(x), c.param(weight), h->sizes[1],
                                   optionalParam(c, bias), biasScale, h->data(), argmax->data());
  });
}

void _mlir_ciface_locus_rt_relu_forward(void *ctx, Buf4 *x, Buf4 *y) {
  context(ctx).backend->reluForward(x->data(), y->data(), x->count());
}

void _mlir_ciface_locus_rt_triangle_forward(void *ctx, Buf4 *x, Buf4 *y) {
  context(ctx).backend->triangleForward(x->data(), shape(x), y->data());
}

void _mlir_ciface_locus_rt_max_pool_forward(void *ctx, Buf4 *x, Buf4 *y, Index4 *argmax,
                                            int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                            int64_t pt, int64_t pl, int64_t pb, int64_t pr) {
  context(ctx).backend->maxPool2dForward(x->data(), shape(x),
                                         window(kh, kw, sh, sw, pt, pl, pb, pr), y->data(),
                                         shape(y), argmax->data());
}

void _mlir_ciface_locus_rt_avg_pool_forward(void *ctx, Buf4 *x, Buf4 *y, int64_t kh, int64_t kw,
                                            int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                                            int64_t pb, int64_t pr) {
  context(ctx).backend->avgPool2dForward(x->data(), shape(x),
                                         window(kh, kw, sh, sw, pt, pl, pb, pr), y->data(),
                                         shape(y));
}

void _mlir_ciface_locus_rt_relu_max_pool_forward(void *ctx, Buf4 *a, Buf4 *h, Index4 *argmax,
                                                 int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                                 int64_t pt, int64_t pl, int64_t pb,
                                                 int64_t pr) {
  context(ctx).backend->reluMaxPool2dForward(a->data(), shape(a),
                                             window(kh, kw, sh, sw, pt, pl, pb, pr), h->data(),
                                             shape(h), argmax->data());
}

void _mlir_ciface_locus_rt_relu_max_pool_forward_unindexed(void *ctx, Buf4 *a, Buf4 *h,
                                                           int64_t kh, int64_t kw) {
  context(ctx).backend->reluMaxPool2dForwardUnindexed(a->data(), shape(a),
                                                      window(kh, kw, kh, kw, 0, 0, 0, 0),
                                                      h->data());
}

void _mlir_ciface_locus_rt_loss_pool(void *ctx, Buf4 *h, Buf4 *z, int64_t kernel) {
  context(ctx).backend->lossPool(h->data(), shape(h), kernel, z->data(), shape(z));
}

void _mlir_ciface_locus_rt_loss_unpool(void *ctx, Buf4 *dz, Buf4 *dh, int64_t kernel) {
  context(ctx).backend->lossUnpool(dz->data(), shape(dz), kernel, dh->data(), shape(dh));
}

void _mlir_ciface_locus_rt_draw_negatives(void *ctx, int32_t block, Index1 *negatives) {
  using namespace locus::rt::train;
  StepContext &c = context(ctx);
  std::vector<int32_t> rows =
      drawNegatives(negatives->sizes[0], mixSeed(c.negativesSeed, Stream::Negatives, block));
  c.backend->copyToDevice(negatives->data(), rows.data(),
                          static_cast<int64_t>(sizeof(int32_t) * rows.size()));
}

void _mlir_ciface_locus_rt_adamw_from_factors(void *ctx, int32_t param, Buf2 *factors,
                                              Buf2 *c) {
  context(ctx).adamwFromFactors(param, factors->sizes[1], c->sizes[1], factors->sizes[0],
                                factors->data(), c->data());
}

void _mlir_ciface_locus_rt_copy_columns(void *ctx, Buf2 *z, Buf2 *out, int64_t offset) {
  context(ctx).backend->copy2d(out->data() + offset, out->strides[0], z->data(), z->strides[0],
                               z->sizes[0], z->sizes[1]);
}

void _mlir_ciface_locus_rt_matmul_param(void *ctx, Buf2 *a, int32_t param, int32_t transposed,
                                        Buf2 *c) {
  StepContext &s = context(ctx);
  s.backend->gemm(false, transposed != 0, a->sizes[0], c->sizes[1], a->sizes[1], 1.0f, a->data(),
                  s.param(param), 0.0f, c->data());
}

void _mlir_ciface_locus_rt_matmul(void *ctx, Buf2 *a, int32_t transA, Buf2 *b, int32_t transB,
                                  Buf2 *c) {
  const int64_t k = transA ? a->sizes[0] : a->sizes[1];
  context(ctx).backend->gemm(transA != 0, transB != 0, c->sizes[0], c->sizes[1], k, 1.0f,
                             a->data(), b->data(), 0.0f, c->data());
}

void _mlir_ciface_locus_rt_project_rows(void *ctx, Buf2 *c, int32_t projection, Buf2 *bc) {
  StepContext &s = context(ctx);
  s.backend->projectRows(bc->sizes[0], bc->sizes[1], c->sizes[1], s.param(projection), c->data(),
                         bc->data());
}

void _mlir_ciface_locus_rt_projection_gradient(void *ctx, Buf2 *factors, Buf2 *c, Buf2 *grad) {
  context(ctx).backend->projectionGradient(grad->sizes[0], grad->sizes[1], c->sizes[0],
                                           factors->data(), c->data(), grad->data());
}

void _mlir_ciface_locus_rt_add_losses(void *ctx, Buf1F64 *losses, Index1 *blocks) {
  StepContext &c = context(ctx);
  const int64_t count = losses->sizes[0];
  std::vector<double> values(static_cast<size_t>(count));
  c.backend->copyToHost(values.data(), losses->data(), count * static_cast<int64_t>(sizeof(double)));
  for (int64_t i = 0; i < count; ++i)
    if (blocks->data()[i] >= 0)
      addLoss(c, blocks->data()[i], values[static_cast<size_t>(i)]);
}

void _mlir_ciface_locus_rt_conv2d_backward_weight(void *ctx, Buf4 *x, Buf4 *dy, Buf4 *dw,
                                                  Buf1 *db, int32_t hasBias, float biasScale,
                                                  int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                                  int64_t pt, int64_t pl, int64_t pb,
                                                  int64_t pr) {
  context(ctx).backend->conv2dBackwardWeight(x->data(), shape(x), dy->data(), shape(dy),
                                             window(kh, kw, sh, sw, pt, pl, pb, pr), dw->data(),
                                             hasBias ? db->data() : nullptr, biasScale);
}

void _mlir_ciface_locus_rt_conv2d_backward_data(void *ctx, Buf4 *dy, int32_t weight, Buf4 *dx,
                                                int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                                int64_t pt, int64_t pl, int64_t pb, int64_t pr) {
  StepContext &c = context(ctx);
  inLayer(c, weight, [&] {
    c.backend->conv2dBackwardData(dy->data(), shape(dy), c.param(weight),
                                  window(kh, kw, sh, sw, pt, pl, pb, pr), dx->data(), shape(dx));
  });
}

void _mlir_ciface_locus_rt_conv_relu_pool_backward_weight(void *ctx, Buf4 *x, Buf4 *dh, Buf4 *h,
                                                          Index4 *argmax, Buf4 *dw, Buf1 *db,
                                                          int32_t hasBias, float biasScale) {
  context(ctx).backend->convReluPoolBackwardWeight(x->data(), shape(x), dh->data(), h->data(),
                                                   argmax->data(), dh->sizes[1], dw->data(),
                                                   hasBias ? db->data() : nullptr, biasScale);
}

void _mlir_ciface_locus_rt_draw_hybrid(void *ctx, int32_t stream, Buf1 *masks,
                                       Index1 *partners) {
  using namespace locus::rt::train;
  StepContext &c = context(ctx);
  const int64_t n = partners->sizes[0], plane = masks->sizes[0] / n;
  std::vector<float> bits(static_cast<size_t>(masks->sizes[0]));
  std::vector<int32_t> rows(static_cast<size_t>(n));
  drawHybrid(n, plane, mixSeed(c.negativesSeed, Stream::Negatives, stream), bits.data(),
             rows.data());
  c.backend->copyToDevice(masks->data(), bits.data(),
                          static_cast<int64_t>(sizeof(float) * bits.size()));
  c.backend->copyToDevice(partners->data(), rows.data(),
                          static_cast<int64_t>(sizeof(int32_t) * rows.size()));
}

void _mlir_ciface_locus_rt_relu_backward(void *ctx, Buf4 *y, Buf4 *dy, Buf4 *dx) {
  context(ctx).backend->reluBackward(y->data(), dy->data(), dx->data(), y->count());
}

void _mlir_ciface_locus_rt_triangle_backward(void *ctx, Buf4 *x, Buf4 *dy, Buf4 *dx) {
  context(ctx).backend->triangleBackward(x->data(), shape(x), dy->data(), dx->data());
}

void _mlir_ciface_locus_rt_max_pool_backward(void *ctx, Buf4 *dy, Index4 *argmax, Buf4 *dx) {
  context(ctx).backend->maxPool2dBackward(dy->data(), shape(dy), argmax->data(), dx->data(),
                                          shape(dx));
}

void _mlir_ciface_locus_rt_avg_pool_backward(void *ctx, Buf4 *dy, Buf4 *dx, int64_t kh,
                                             int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                                             int64_t pl, int64_t pb, int64_t pr) {
  context(ctx).backend->avgPool2dBackward(dy->data(), shape(dy),
                                          window(kh, kw, sh, sw, pt, pl, pb, pr), dx->data(),
                                          shape(dx));
}

void _mlir_ciface_locus_rt_relu_max_pool_backward(void *ctx, Buf4 *dh, Buf4 *h, Index4 *argmax,
                                                  Buf4 *da, int64_t kh, int64_t kw, int64_t sh,
                                                  int64_t sw, int64_t pt, int64_t pl, int64_t pb,
                                                  int64_t pr) {
  context(ctx).backend->reluMaxPool2dBackward(dh->data(), h->data(), shape(h),
                                              window(kh, kw, sh, sw, pt, pl, pb, pr),
                                              argmax->data(), da->data(), shape(da));
}

void _mlir_ciface_locus_rt_relu_max_pool_backward_in_place(void *ctx, Buf4 *dh, Buf4 *aThenDa,
                                                           int64_t kh, int64_t kw) {
  context(ctx).backend->reluMaxPool2dBackwardInPlace(
      dh->data(), window(kh, kw, kh, kw, 0, 0, 0, 0), aThenDa->data(), shape(aThenDa));
}

void _mlir_ciface_locus_rt_apply_gradient(void *ctx, int32_t param, Buf1 *grad) {
  context(ctx).applyGradient(param, grad->data(), grad->count());
}

} // extern "C"
