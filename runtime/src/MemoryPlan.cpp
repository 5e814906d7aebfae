//===- MemoryPlan.cpp - liveness walk over the engine's step ---------------===//
//
// Mirrors Engine::runLocal / runGlobal and forwardBlock / backwardBlock
// (runtime/src/train): which buffers each layer allocates, which the block
// state keeps for the backward pass, which are reused in place (relu
// forward and backward) and when each is released. Any change there must
// change this walk too; TrainMemoryPlanTest compares the two.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/MemoryPlan.h"

#include "locus/runtime/backend/cpu/Kernels.h"

#include <algorithm>
#include <map>
#include <set>

namespace locus::rt {

namespace {
constexpr int64_t kFloat = 4, kIndex = 4;

int64_t count(const std::array<int64_t, 4> &s, int64_t n) { return n * s[1] * s[2] * s[3]; }

/// Running total of live step memory and its high-water mark.
enum class Goodness { None, ForwardForward, Scff };

Goodness goodnessOf(const BlockDesc &b) {
  if (b.loss.score == "sum_squares")
    return Goodness::ForwardForward;
  if (b.loss.score == "mean_relu_squares")
    return Goodness::Scff;
  return Goodness::None;
}

/// The bytes the engine's tracker counts for one tensor of `bytes`: Array
/// rounds every allocation up to its 64-byte alignment (Tensor.cpp).
int64_t tensorBytes(int64_t bytes) { return bytes <= 0 ? 0 : (bytes + 63) / 64 * 64; }

/// Live bytes of a walk; every alloc and free is one tensor.
struct Live {
  int64_t current = 0, peak = 0;
  int64_t alloc(int64_t bytes) {
    const int64_t b = tensorBytes(bytes);
    current += b;
    peak = std::max(peak, current);
    return b;
  }
  void free(int64_t bytes) { current -= tensorBytes(bytes); }
};

int64_t pooledDim(const std::array<int64_t, 4> &s, int64_t k) {
  if (k < 0)
    return s[1] * s[2] * s[3];
  if (k == 0)
    return s[1];
  return s[1] * (s[2] / k) * (s[3] / k);
}

/// The kernel pooling a block's context; "auto" (-2) is the context block's
/// own kernel.
int64_t contextKernel(const ModelDesc &model, int32_t l) {
  const LossDesc &loss = model.blocks[l].loss;
  if (loss.contextPool != -2)
    return loss.contextPool;
  int32_t m = loss.contextBlock < 0 ? l : loss.contextBlock;
  return model.blocks[m].loss.pool;
}

/// Whether a block's loss needs a context from another block.
bool foreignContext(const BlockDesc &b, int32_t self) {
  return b.loss.context != "same" && b.loss.contextBlock >= 0 && b.loss.contextBlock != self;
}

/// Whether the block's output is also kept by its own state (a final relu or
/// relu + max-pool keeps its output as the mask), so it dies in the block's
/// backward.
bool outputKeptByState(const BlockDesc &b) {
  LayerKind last = b.layers.back().kind;
  return last == LayerKind::Relu || last == LayerKind::ReluMaxPool2D ||
         last == LayerKind::ConvReluMaxPool2D;
}

/// The block's backward pass as global backprop runs it: a local model's
/// chain (which stops at the lowest conv's parameters) continued with the
/// data adjoints down to the block input, for the what-if global plan that
/// the memory report compares against.
BlockDesc withInputGradient(const BlockDesc &b) {
  if (b.inputGradient)
    return b;
  BlockDesc global = b;
  int32_t at = static_cast<int32_t>(b.layers.size()) - 1;
  for (const GradStep &step : b.backward)
    if (step.kind == GradStep::Kind::Data)
      --at;
  for (int32_t i = at; i >= 0; --i)
    global.backward.push_back({i, GradStep::Kind::Data});
  global.inputGradient = true;
  return global;
}

struct Walker {
  int64_t n; // views

  /// forwardBlock. `inputHeld`: someone else holds the block input (the
  /// trainer's views buffer), so it is never freed here. Returns the bytes
  /// the block state keeps for backward (`kept`) and the output's bytes.
  void forward(const BlockDesc &b, bool keep, bool inputHeld, Live &live, int64_t &kept,
               int64_t &outBytes) const {
    int64_t x = count(b.layers.front().inShape, n) * kFloat;
    bool held = inputHeld;
    kept = 0;
    for (size_t i = 0; i < b.layers.size(); ++i) {
      const LayerDesc &layer = b.layers[i];
      int64_t y = count(layer.outShape, n) * kFloat;
      bool yHeld = false, inPlace = false;
      switch (layer.kind) {
      case LayerKind::Conv2D:
      case LayerKind::Triangle:
        live.alloc(y);
        if (keep && !held) { // the state keeps the input
          kept += x;
          held = true;
        }
        break;
      case LayerKind::Relu:
        inPlace = !held; // the output takes over an input nobody else holds
        if (!inPlace)
          live.alloc(y);
        if (keep) {
          yHeld = true;
          kept += y;
        }
        break;
      case LayerKind::MaxPool2D:
        live.alloc(y);
        live.alloc(y / kFloat * kIndex); // arg-max indices
        if (keep)
          kept += y / kFloat * kIndex;
        else
          live.free(y / kFloat * kIndex);
        break;
      case LayerKind::ConvReluMaxPool2D: // as ReluMaxPool2D, and the input for dW
        if (keep && !held) {
          kept += x;
          held = true;
        }
        [[fallthrough]];
      case LayerKind::ReluMaxPool2D: // pooled output and arg-max; the state keeps both
        live.alloc(y);
        live.alloc(y / kFloat * kIndex);
        if (keep) {
          kept += y + y / kFloat * kIndex;
          yHeld = true; // the output, as the relu mask
        } else {
          live.free(y / kFloat * kIndex);
        }
        break;
      case LayerKind::AvgPool2D:
      case LayerKind::Standardize:
      case LayerKind::LengthNormalize:
        live.alloc(y);
        break;
      }
      if (!held && !inPlace)
        live.free(x);
      x = y;
      held = yHeld;
    }
    outBytes = x;
  }
};
} // namespace

MemoryPlan planMemory(const ModelDesc &model, const PlanOptions &options) {
  MemoryPlan plan;
  int32_t blocks = static_cast<int32_t>(model.blocks.size());
  // FF and SCFF blocks run on 2N rows (positives and negatives), which the
  // engine builds from the N views: hybrids below them (FF), or pairs (SCFF).
  const Goodness goodness = blocks > 0 ? goodnessOf(model.blocks.front()) : Goodness::None;
  const int64_t views = model.inputShape[0];
  const int64_t n = goodness == Goodness::None ? views : 2 * views;
  bool global = blocks > 0 && model.blocks.back().loss.mode == "global";
  int32_t top = blocks - 1;

  // Resident: parameters, AdamW state of the trained ones, views, workspace.
  std::vector<bool> trained(model.params.size(), false);
  for (int32_t l = 0; l < blocks; ++l) {
    const BlockDesc &b = model.blocks[l];
    for (const LayerDesc &layer : b.layers)
      if (hasConvWeights(layer.kind)) {
        trained[layer.weight] = true;
        if (layer.bias >= 0)
          trained[layer.bias] = true;
      }
    if (b.loss.projection != "identity" && (!global || l == top)) {
      trained[b.projection] = true;
      if (b.lateralProjection >= 0)
        trained[b.lateralProjection] = true;
    }
  }
  int64_t resident = tensorBytes(count(model.inputShape, views) * kFloat);
  // AdamW keeps two moments per trained parameter, SGD and LARS one buffer.
  // Bfloat16 moments: half the floats, rounded up per parameter (Engine).
  const int64_t stateArrays = options.adamW ? 2 : 1;
  auto stateBytes = [&](int64_t elements) {
    return stateArrays *
           tensorBytes(kFloat * (options.bf16Moments ? (elements + 1) / 2 : elements));
  };
  for (size_t i = 0; i < model.params.size(); ++i)
    resident += tensorBytes(model.params[i].count() * kFloat) +
                (trained[i] ? stateBytes(model.params[i].count()) : 0);
  for (const BlockDesc &b : model.blocks)
    if (b.loss.projection == "identity" && goodness == Goodness::None)
      resident += tensorBytes(b.loss.dim * b.loss.dim * kFloat);
  int64_t workspace = 0;
  for (const BlockDesc &b : model.blocks)
    for (const LayerDesc &layer : b.layers)
      if (hasConvWeights(layer.kind)) {
        cpu::Window win{layer.kernel[0], layer.kernel[1], layer.stride[0], layer.stride[1],
                        layer.pad[0],    layer.pad[1],    layer.pad[2],    layer.pad[3]};
        cpu::Shape4 xs{n, layer.inShape[1], layer.inShape[2], layer.inShape[3]};
        const int64_t o = layer.outShape[1];
        const int64_t floats = layer.kind == LayerKind::Conv2D
                                   ? cpu::conv2dWorkspaceFloats(xs, win, o)
                                   : cpu::convReluPoolWorkspaceFloats(xs, o);
        workspace = std::max(workspace, floats * kFloat);
      }
  plan.residentBytes = resident;
  plan.workspaceBytes = workspace;

  Walker walker{n};
  // Sum of bytesOf(element count) over a block's parameters.
  auto sumOverBlockParams = [&](const BlockDesc &b, bool withProjections, auto bytesOf) {
    int64_t bytes = 0;
    for (const LayerDesc &layer : b.layers)
      if (hasConvWeights(layer.kind)) {
        bytes += bytesOf(model.params[layer.weight].count());
        if (layer.bias >= 0)
          bytes += bytesOf(model.params[layer.bias].count());
      }
    if (withProjections && b.projection >= 0)
      bytes += bytesOf(model.params[b.projection].count());
    if (withProjections && b.lateralProjection >= 0)
      bytes += bytesOf(model.params[b.lateralProjection].count());
    return bytes;
  };
  auto blockParamBytes = [&](const BlockDesc &b, bool withProjections) {
    return sumOverBlockParams(b, withProjections,
                              [](int64_t e) { return tensorBytes(e * kFloat); });
  };
  auto blockStateBytes = [&](const BlockDesc &b, bool withProjections) {
    return sumOverBlockParams(b, withProjections, stateBytes);
  };

  // Loss of a block: z, dz, dB (and dB_lat), then z freed, dh allocated,
  // dz freed. Returns with dh live (its bytes in `dh`).
  auto lossPhase = [&](const BlockDesc &b, int64_t outBytes, Live &live, int64_t &dh,
                       int64_t &gradBytes) {
    bool alias = b.loss.pool < 0;
    int64_t z = alias ? 0 : n * b.loss.dim * kFloat;
    int64_t dz = n * b.loss.dim * kFloat;
    int64_t dc = b.loss.context == "same" ? b.loss.dim : b.loss.contextDim;
    live.alloc(z);
    if (b.loss.f == "infonce") { // p and dp, then dz and dW; p, dp freed with z
      int64_t pBytes = n * b.loss.dim * kFloat;
      live.alloc(pBytes);
      live.alloc(pBytes);
      live.alloc(dz);
      gradBytes += live.alloc(b.loss.dim * b.loss.dim * kFloat);
      live.free(pBytes);
      live.free(pBytes);
      live.free(z);
      dh = outBytes;
      live.alloc(dh);
      live.free(dz);
      return;
    }
    // Context from the block's own output with another kernel: pooled now,
    // released with z after the loss.
    int32_t self = static_cast<int32_t>(&b - model.blocks.data());
    int64_t ownContext = b.loss.context != "same" && b.loss.contextBlock < 0 &&
                                 contextKernel(model, self) != b.loss.pool
                             ? n * dc * kFloat
                             : 0;
    live.alloc(ownContext);
    live.alloc(dz);
    if (options.adamW && b.loss.projection != "identity") {
      // AdamW updates B (and B_lat) in the loss step from the gradient's
      // row factors [N, D], one buffer for both terms: dL/dB never exists.
      live.alloc(n * b.loss.dim * kFloat);
      live.free(n * b.loss.dim * kFloat);
    } else {
      gradBytes += live.alloc(b.loss.dim * dc * kFloat);
      if (b.loss.context == "both")
        gradBytes += live.alloc(b.loss.dim * b.loss.dim * kFloat);
    }
    live.free(z);
    live.free(ownContext);
    dh = alias ? dz : outBytes;
    if (!alias) {
      live.alloc(dh);
      live.free(dz);
    }
  };

  // The block's backward steps (as the compiler derived them), freeing the
  // kept tensors and the incoming gradient as the engine does; the conv
  // weight gradients stay live (counted into gradBytes).
  // `inputOwned`: the block input dies with the first conv's kept copy (not
  // the views, and not an output that the previous block's relu state also
  // keeps). `outputHeld`: the block output is held outside the state too
  // (local mode's `out`), so a final relu's kept output survives its backward.
  auto backward = [&](const BlockDesc &b, Live &live, int64_t dy, int64_t &gradBytes,
                      bool inputOwned, bool outputHeld) {
    std::vector<bool> inputFreed(b.layers.size(), false);
    auto freeKeptInput = [&](size_t i, int64_t xBytes) {
      if (!inputFreed[i] && (i > 0 || inputOwned))
        live.free(xBytes);
      inputFreed[i] = true;
    };
    const size_t top = b.layers.size() - 1;
    for (const GradStep &step : b.backward) {
      const size_t i = static_cast<size_t>(step.layer);
      const LayerDesc &layer = b.layers[i];
      int64_t xBytes = count(layer.inShape, n) * kFloat;
      int64_t yBytes = count(layer.outShape, n) * kFloat;
      if (step.kind == GradStep::Kind::Params) {
        gradBytes += live.alloc(model.params[layer.weight].count() * kFloat);
        if (layer.bias >= 0)
          gradBytes += live.alloc(model.params[layer.bias].count() * kFloat);
        freeKeptInput(i, xBytes);
        if (layer.kind == LayerKind::ConvReluMaxPool2D) { // no data step follows
          live.free(yBytes / kFloat * kIndex);
          if (!(outputHeld && i == top))
            live.free(yBytes); // the kept output (the relu mask)
        }
        continue;
      }
      int64_t dx = 0;
      bool keptOutput = !(outputHeld && i == top);
      switch (layer.kind) {
      case LayerKind::Conv2D:
        freeKeptInput(i, xBytes);
        live.alloc(dx = xBytes);
        break;
      case LayerKind::Relu:
        dx = dy; // in place
        if (keptOutput)
          live.free(yBytes);
        dy = 0;
        break;
      case LayerKind::ReluMaxPool2D:
        live.alloc(dx = xBytes);
        live.free(yBytes / kFloat * kIndex);
        if (keptOutput)
          live.free(yBytes); // the kept output (the relu mask)
        break;
      case LayerKind::MaxPool2D:
        live.alloc(dx = xBytes);
        live.free(yBytes / kFloat * kIndex);
        break;
      case LayerKind::AvgPool2D:
      case LayerKind::Standardize:
      case LayerKind::LengthNormalize:
        live.alloc(dx = xBytes);
        break;
      case LayerKind::Triangle:
        live.alloc(dx = xBytes);
        live.free(xBytes); // the kept input
        break;
      case LayerKind::ConvReluMaxPool2D:
        // Only the what-if global plan (withInputGradient) asks: the input
        // gradient as the unfused conv would give it (its Params step has
        // already freed the output and arg-max).
        freeKeptInput(i, xBytes);
        live.alloc(dx = xBytes);
        break;
      }
      live.free(dy);
      dy = dx;
    }
    // A local pass ends on a Params step: the gradient at the lowest conv's
    // output dies with the step.
    if (!b.inputGradient) {
      live.free(dy);
      dy = 0;
    }
    return dy;
  };

  // Contexts from other blocks, computed by a forward-only pass first and
  // live for the whole step.
  std::set<std::pair<int32_t, int64_t>> contexts;
  for (int32_t l = 0; l < blocks; ++l)
    if (!global && foreignContext(model.blocks[l], l))
      contexts.insert({model.blocks[l].loss.contextBlock, contextKernel(model, l)});
  int64_t contextBytes = 0;
  Live prepass;
  if (!contexts.empty()) {
    int32_t last = 0;
    for (const auto &c : contexts)
      last = std::max(last, c.first);
    int64_t held = 0; // the previous block's output
    for (int32_t b = 0; b <= last; ++b) {
      int64_t kept = 0, out = 0;
      Live blockLive;
      blockLive.current = blockLive.peak = held + contextBytes;
      walker.forward(model.blocks[b], /*keep=*/false, /*inputHeld=*/b == 0, blockLive, kept,
                     out);
      prepass.peak = std::max(prepass.peak, blockLive.peak);
      for (const auto &c : contexts)
        if (c.first == b)
          contextBytes += n * pooledDim(model.blocks[b].outShape, c.second) * kFloat;
      held = out;
    }
  }

  plan.blocks.resize(blocks);
  plan.globalForwardBytes.resize(blocks);
  // A block's local-mode record: its bytes of parameters and optimizer
  // state, its gradients, and the rest of its step's peak.
  auto recordBlock = [&](int32_t l, const Live &live, int64_t grads, bool withProjections) {
    BlockPlan &p = plan.blocks[l];
    p.paramBytes = blockParamBytes(model.blocks[l], withProjections);
    p.optimizerBytes = blockStateBytes(model.blocks[l], withProjections);
    p.gradientBytes = grads;
    p.activationBytes = live.peak - grads;
  };
  if (goodness != Goodness::None) {
    // Mirrors Engine::runLocal's goodness path (runtime/src/train/Goodness.h).
    int64_t stepPeak = 0, input = 0;
    for (int32_t l = 0; l < blocks; ++l) {
      const BlockDesc &b = model.blocks[l];
      const int64_t row = count(b.layers.front().inShape, 1) * kFloat;
      Live live;
      live.current = live.peak = input;
      if (goodness == Goodness::ForwardForward) {
        live.alloc(n * row); // l = 0: views and hybrids; later: the normalised input
        live.free(input);
      } else {
        live.alloc(views * row); // the standardised rows
        live.alloc(n * row);     // the pairs
        live.free(views * row);
        live.free(input);
      }
      int64_t kept = 0, out = 0, grads = 0;
      walker.forward(b, /*keep=*/true, /*inputHeld=*/false, live, kept, out);
      live.alloc(out); // dL/dy
      backward(b, live, out, grads, /*inputOwned=*/true, /*outputHeld=*/true);
      if (goodness == Goodness::Scff) { // the positive half goes on
        live.alloc(out / 2);
        live.free(out);
        out /= 2;
      }
      stepPeak = std::max(stepPeak, live.peak);
      recordBlock(l, live, grads, /*withProjections=*/false);
      input = out;
    }
    plan.peakLocalBytes = resident + workspace + stepPeak;
  } else if (!global) {
    int64_t stepPeak = prepass.peak, input = 0;
    for (int32_t l = 0; l < blocks; ++l) {
      const BlockDesc &b = model.blocks[l];
      Live live;
      live.current = live.peak = contextBytes + input;
      int64_t kept = 0, out = 0, dh = 0, grads = 0;
      walker.forward(b, /*keep=*/true, /*inputHeld=*/l == 0, live, kept, out);
      lossPhase(b, out, live, dh, grads);
      backward(b, live, dh, grads, /*inputOwned=*/l > 0, /*outputHeld=*/true);
      stepPeak = std::max(stepPeak, live.peak);
      recordBlock(l, live, grads, /*withProjections=*/true);
      input = out;
    }
    plan.peakLocalBytes = resident + workspace + stepPeak;
  }

  // Global mode: every block keeps its forward state; one backward at the end.
  {
    Live live;
    int64_t kept = 0, out = 0, grads = 0;
    // Each block's output stays live as the next block's kept input.
    for (int32_t l = 0; l < blocks; ++l) {
      walker.forward(model.blocks[l], /*keep=*/true, /*inputHeld=*/l == 0, live, kept, out);
      plan.globalForwardBytes[l] = kept;
    }
    const BlockDesc &b = model.blocks[top];
    int64_t dh = 0;
    lossPhase(b, out, live, dh, grads);
    auto endsInRelu = [&](int32_t l) { return outputKeptByState(model.blocks[l]); };
    if (!endsInRelu(top))
      live.free(out); // the top output itself (a final relu's state keeps it)
    for (int32_t l = top; l >= 0; --l)
      dh = backward(l > 0 ? withInputGradient(model.blocks[l]) : model.blocks[l], live, dh, grads,
                    /*inputOwned=*/l > 0 && !endsInRelu(l - 1), /*outputHeld=*/false);
    plan.peakGlobalBytes = resident + workspace + live.peak;
  }
  if (global)
    plan.peakLocalBytes = plan.peakGlobalBytes;
  return plan;
}

} // namespace locus::rt
