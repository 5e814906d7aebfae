#include "Layers.h"

#include <cassert>
#include <vector>

namespace locus::rt::train {

Shape4 withBatch(const std::array<int64_t, 4> &shape, int64_t n) {
  return Shape4{n, shape[1], shape[2], shape[3]};
}

cpu::Window layerWindow(const LayerDesc &layer) {
  cpu::Window w;
  w.kh = layer.kernel[0];
  w.kw = layer.kernel[1];
  w.sh = layer.stride[0];
  w.sw = layer.stride[1];
  w.pt = layer.pad[0];
  w.pl = layer.pad[1];
  w.pb = layer.pad[2];
  w.pr = layer.pad[3];
  return w;
}

Tensor forwardBlock(ExecContext &ctx, const BlockDesc &block, const std::vector<Tensor> &params,
                    Tensor x, BlockState *state, float biasScale) {
  int64_t n = x.shape().n;
  if (state)
    state->assign(block.layers.size(), LayerState{});
  for (size_t i = 0; i < block.layers.size(); ++i) {
    const LayerDesc &layer = block.layers[i];
    Shape4 xs = withBatch(layer.inShape, n), ys = withBatch(layer.outShape, n);
    assert(x.count() == xs.count());
    x = x.reshaped(xs);
    LayerState *keep = state ? &(*state)[i] : nullptr;
    Tensor y;
    switch (layer.kind) {
    case LayerKind::Conv2D: {
      y = ctx.allocate(ys);
      const float *bias = layer.bias >= 0 ? params[layer.bias].data() : nullptr;
      std::vector<float> scaledBias;
      if (bias && biasScale != 1.0f) {
        scaledBias.assign(bias, bias + ys.c);
        for (float &b : scaledBias)
          b *= biasScale;
        bias = scaledBias.data();
      }
      cpu::conv2dForward(x.data(), xs, params[layer.weight].data(), ys.c, bias,
                         layerWindow(layer), y.data(), ctx.workspace);
      ctx.noteWorkspace();
      if (keep)
        keep->input = x;
      break;
    }
    case LayerKind::Relu:
      if (i + 1 < block.layers.size() && block.layers[i + 1].kind == LayerKind::MaxPool2D) {
        // relu + max-pool in one pass: relu(a) is never stored; the pooled
        // output and the arg-max carry the relu mask for the backward pass.
        const LayerDesc &pool = block.layers[i + 1];
        ys = withBatch(pool.outShape, n);
        y = ctx.allocate(ys);
        IndexArray argmax = IndexArray::allocate(ctx.memory, ys.count());
        cpu::reluMaxPool2dForward(x.data(), xs, layerWindow(pool), y.data(), ys, argmax.data());
        if (state) {
          (*state)[i + 1].argmax = argmax;
          (*state)[i + 1].output = y; // marks the pair as fused
        }
        ++i;
        break;
      }
      // In place when nobody else holds x (the usual conv -> relu case): the
      // conv output is not needed again, the relu output carries the mask.
      y = x.unique() ? x : ctx.allocate(ys);
      cpu::reluForward(x.data(), y.data(), xs.count());
      if (keep)
        keep->output = y;
      break;
    case LayerKind::MaxPool2D: {
      y = ctx.allocate(ys);
      IndexArray argmax = IndexArray::allocate(ctx.memory, ys.count());
      cpu::maxPool2dForward(x.data(), xs, layerWindow(layer), y.data(), ys, argmax.data());
      if (keep)
        keep->argmax = argmax;
      break;
    }
    case LayerKind::AvgPool2D:
      y = ctx.allocate(ys);
      cpu::avgPool2dForward(x.data(), xs, layerWindow(layer), y.data(), ys);
      break;
    case LayerKind::Triangle:
      y = ctx.allocate(ys);
      cpu::triangleForward(x.data(), xs, y.data());
      if (keep)
        keep->input = x;
      break;
    case LayerKind::Standardize:
    case LayerKind::LengthNormalize:
      // Rejected by validateForCpu before any engine is built.
      assert(false && "layer kind not supported by the CPU runtime");
      break;
    }
    x = y;
  }
  return x;
}

namespace {
/// Index of the first layer with parameters: below it no gradient is needed.
size_t firstParamLayer(const BlockDesc &block) {
  for (size_t i = 0; i < block.layers.size(); ++i)
    if (block.layers[i].kind == LayerKind::Conv2D)
      return i;
  return block.layers.size();
}
} // namespace

Tensor backwardBlock(ExecContext &ctx, const BlockDesc &block, const std::vector<Tensor> &params,
                     BlockState &state, Tensor dy, bool wantInputGradient,
                     std::vector<Tensor> &grads, float biasScale) {
  int64_t n = dy.shape().n;
  size_t stop = wantInputGradient ? 0 : firstParamLayer(block);
  for (size_t i = block.layers.size(); i-- > stop;) {
    const LayerDesc &layer = block.layers[i];
    LayerState &saved = state[i];
    Shape4 xs = withBatch(layer.inShape, n), ys = withBatch(layer.outShape, n);
    dy = dy.reshaped(ys);
    bool needDx = i > stop || wantInputGradient;
    Tensor dx;
    switch (layer.kind) {
    case LayerKind::Conv2D: {
      Tensor &dw = grads[layer.weight];
      dw = ctx.allocate(params[layer.weight].shape());
      float *db = nullptr;
      if (layer.bias >= 0) {
        grads[layer.bias] = ctx.allocate(params[layer.bias].shape());
        db = grads[layer.bias].data();
      }
      cpu::conv2dBackwardWeight(saved.input.data(), xs, dy.data(), ys, layerWindow(layer),
                                dw.data(), db, ctx.workspace);
      ctx.noteWorkspace();
      if (db && biasScale != 1.0f)
        for (int64_t c = 0; c < ys.c; ++c)
          db[c] *= biasScale;
      saved.input.reset();
      if (needDx) {
        dx = ctx.allocate(xs);
        cpu::conv2dBackwardData(dy.data(), ys, params[layer.weight].data(), layerWindow(layer),
                                dx.data(), xs, ctx.workspace);
        ctx.noteWorkspace();
      }
      break;
    }
    case LayerKind::Relu:
      dx = dy.unique() ? dy : ctx.allocate(xs);
      cpu::reluBackward(saved.output.data(), dy.data(), dx.data(), xs.count());
      saved.output.reset();
      break;
    case LayerKind::MaxPool2D:
      if (saved.output.defined()) { // fused with the relu below it
        const LayerDesc &relu = block.layers[i - 1];
        Shape4 as = withBatch(relu.inShape, n);
        dx = ctx.allocate(as);
        cpu::reluMaxPool2dBackward(dy.data(), saved.output.data(), ys, saved.argmax.data(),
                                   dx.data(), as);
        saved.argmax.reset();
        saved.output.reset();
        --i; // the relu is done too
        break;
      }
      dx = ctx.allocate(xs);
      cpu::maxPool2dBackward(dy.data(), ys, saved.argmax.data(), dx.data(), xs);
      saved.argmax.reset();
      break;
    case LayerKind::AvgPool2D:
      dx = ctx.allocate(xs);
      cpu::avgPool2dBackward(dy.data(), ys, layerWindow(layer), dx.data(), xs);
      break;
    case LayerKind::Triangle:
      dx = ctx.allocate(xs);
      cpu::triangleBackward(saved.input.data(), xs, dy.data(), dx.data());
      saved.input.reset();
      break;
    case LayerKind::Standardize:
    case LayerKind::LengthNormalize:
      assert(false && "layer kind not supported by the CPU runtime");
      break;
    }
    dy = needDx ? dx : Tensor();
  }
  return wantInputGradient ? dy : Tensor();
}

} // namespace locus::rt::train
