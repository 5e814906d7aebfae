#include "Layers.h"

#include <cassert>
#include <vector>

namespace locus::rt::train {

Shape4 withBatch(const std::array<int64_t, 4> &shape, int64_t n) {
  return Shape4{n, shape[1], shape[2], shape[3]};
}

namespace {
cpu::Window windowOf(const std::array<int64_t, 2> &kernel, const std::array<int64_t, 2> &stride,
                     const std::array<int64_t, 4> &pad) {
  cpu::Window w;
  w.kh = kernel[0];
  w.kw = kernel[1];
  w.sh = stride[0];
  w.sw = stride[1];
  w.pt = pad[0];
  w.pl = pad[1];
  w.pb = pad[2];
  w.pr = pad[3];
  return w;
}
} // namespace

cpu::Window layerWindow(const LayerDesc &layer) {
  return windowOf(layer.kernel, layer.stride, layer.pad);
}

cpu::Window poolWindow(const LayerDesc &layer) {
  return windowOf(layer.poolKernel, layer.poolStride, {0, 0, 0, 0});
}

namespace {
const float *biasOf(const LayerDesc &layer, const std::vector<Tensor> &params) {
  return layer.bias >= 0 ? params[layer.bias].data() : nullptr;
}
} // namespace

bool reluPoolIsCompiled(const LayerDesc &layer) {
  return layer.kind == LayerKind::ReluMaxPool2D && layerWindow(layer).tiles();
}

Tensor forwardBlock(Backend &backend, const BlockDesc &block, const std::vector<Tensor> &params,
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
      y = backend.allocate(ys);
      backend.conv2dForward(x.data(), xs, params[layer.weight].data(), ys.c,
                            biasOf(layer, params), biasScale, layerWindow(layer), y.data());
      if (keep)
        keep->input = x;
      break;
    }
    case LayerKind::ConvReluMaxPool2D: {
      // Neither the conv nor the relu output is stored: the pooled output and
      // the arg-max carry what the weight gradient needs.
      y = backend.allocate(ys);
      IndexArray argmax = backend.allocateIndices(ys.count());
      backend.convReluPoolForward(x.data(), xs, params[layer.weight].data(), ys.c,
                                  biasOf(layer, params), biasScale, y.data(), argmax.data());
      if (keep) {
        keep->input = x;
        keep->argmax = argmax;
        keep->output = y;
      }
      break;
    }
    case LayerKind::ReluMaxPool2D: {
      // The relu output is never stored: the pooled output and the arg-max
      // carry the relu mask for the backward pass.
      y = backend.allocate(ys);
      IndexArray argmax = backend.allocateIndices(ys.count());
      backend.reluMaxPool2dForward(x.data(), xs, layerWindow(layer), y.data(), ys,
                                   argmax.data());
      if (keep) {
        keep->argmax = argmax;
        keep->output = y;
      }
      break;
    }
    case LayerKind::Relu:
      // In place when nobody else holds x (the usual conv -> relu case): the
      // conv output is not needed again, the relu output carries the mask.
      y = x.unique() ? x : backend.allocate(ys);
      backend.reluForward(x.data(), y.data(), xs.count());
      if (keep)
        keep->output = y;
      break;
    case LayerKind::MaxPool2D: {
      y = backend.allocate(ys);
      IndexArray argmax = backend.allocateIndices(ys.count());
      backend.maxPool2dForward(x.data(), xs, layerWindow(layer), y.data(), ys, argmax.data());
      if (keep)
        keep->argmax = argmax;
      break;
    }
    case LayerKind::AvgPool2D:
      y = backend.allocate(ys);
      backend.avgPool2dForward(x.data(), xs, layerWindow(layer), y.data(), ys);
      break;
    case LayerKind::Triangle:
      y = backend.allocate(ys);
      backend.triangleForward(x.data(), xs, y.data());
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

Tensor backwardBlock(Backend &backend, const BlockDesc &block, const std::vector<Tensor> &params,
                     BlockState &state, Tensor dy, std::vector<Tensor> &grads,
                     float biasScale) {
  int64_t n = dy.shape().n;
  // The steps are a chain (validateForCpu): each Data step turns dy into the
  // gradient at its layer's input; a Params step reads dy at its layer's output.
  for (const GradStep &step : block.backward) {
    const LayerDesc &layer = block.layers[step.layer];
    LayerState &saved = state[step.layer];
    Shape4 xs = withBatch(layer.inShape, n), ys = withBatch(layer.outShape, n);
    dy = dy.reshaped(ys);
    if (step.kind == GradStep::Kind::Params) { // a convolution's dW and db
      Tensor &dw = grads[layer.weight];
      dw = backend.allocate(params[layer.weight].shape());
      float *db = nullptr;
      if (layer.bias >= 0) {
        grads[layer.bias] = backend.allocate(params[layer.bias].shape());
        db = grads[layer.bias].data();
      }
      if (layer.kind == LayerKind::ConvReluMaxPool2D) {
        backend.convReluPoolBackwardWeight(saved.input.data(), xs, dy.data(),
                                           saved.output.data(), saved.argmax.data(), ys.c,
                                           dw.data(), db, biasScale);
        saved.argmax.reset(); // no data step follows (validateForCpu)
        saved.output.reset();
      } else {
        backend.conv2dBackwardWeight(saved.input.data(), xs, dy.data(), ys, layerWindow(layer),
                                     dw.data(), db, biasScale);
      }
      saved.input.reset(); // the backward-data pass needs the weights, not the input
      continue;
    }
    Tensor dx;
    switch (layer.kind) {
    case LayerKind::Conv2D:
      saved.input.reset();
      dx = backend.allocate(xs);
      backend.conv2dBackwardData(dy.data(), ys, params[layer.weight].data(), layerWindow(layer),
                                 dx.data(), xs);
      break;
    case LayerKind::Relu:
      dx = dy.unique() ? dy : backend.allocate(xs);
      backend.reluBackward(saved.output.data(), dy.data(), dx.data(), xs.count());
      saved.output.reset();
      break;
    case LayerKind::ReluMaxPool2D:
      dx = backend.allocate(xs);
      // The same window as the forward pass: the backend picks the same kernel.
      backend.reluMaxPool2dBackward(dy.data(), saved.output.data(), ys, layerWindow(layer),
                                    saved.argmax.data(), dx.data(), xs);
      saved.argmax.reset();
      saved.output.reset();
      break;
    case LayerKind::MaxPool2D:
      dx = backend.allocate(xs);
      backend.maxPool2dBackward(dy.data(), ys, saved.argmax.data(), dx.data(), xs);
      saved.argmax.reset();
      break;
    case LayerKind::AvgPool2D:
      dx = backend.allocate(xs);
      backend.avgPool2dBackward(dy.data(), ys, layerWindow(layer), dx.data(), xs);
      break;
    case LayerKind::Triangle:
      dx = backend.allocate(xs);
      backend.triangleBackward(saved.input.data(), xs, dy.data(), dx.data());
      saved.input.reset();
      break;
    case LayerKind::ConvReluMaxPool2D: // no input gradient (validateForCpu)
    case LayerKind::Standardize:
    case LayerKind::LengthNormalize:
      assert(false && "layer kind not supported by the CPU runtime");
      break;
    }
    dy = dx;
  }
  // A local backward pass ends with a Params step: dy is the gradient at a
  // conv output, not an input gradient.
  return block.inputGradient ? dy : Tensor();
}

} // namespace locus::rt::train
