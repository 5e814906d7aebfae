//===- Validate.cpp - can the CPU runtime run this descriptor? -----------===//
//
// Everything the engine later assumes without checking: consistent shapes
// from layer to layer, parameter shapes, loss dimensions, and rules whose
// pieces the CPU runtime implements. Unsupported rules fail here, by name,
// instead of silently training something else.
//
//===----------------------------------------------------------------------===//
#include "Goodness.h"
#include "Layers.h"
#include "ModelInfo.h"
#include "Pooling.h"
#include "locus/runtime/train/Engine.h"

#include <fmt/format.h>

namespace locus::rt::train {

namespace {

std::string shapeText(const std::array<int64_t, 4> &s) {
  return fmt::format("[{}, {}, {}, {}]", s[0], s[1], s[2], s[3]);
}
std::string shapeText(const std::vector<int64_t> &s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

const char *kindName(LayerKind kind) {
  switch (kind) {
  case LayerKind::Conv2D:
    return "Conv2D";
  case LayerKind::Relu:
    return "Relu";
  case LayerKind::MaxPool2D:
    return "MaxPool2D";
  case LayerKind::ReluMaxPool2D:
    return "ReluMaxPool2D";
  case LayerKind::ConvReluMaxPool2D:
    return "ConvReluMaxPool2D";
  case LayerKind::AvgPool2D:
    return "AvgPool2D";
  case LayerKind::Triangle:
    return "Triangle";
  case LayerKind::Standardize:
    return "Standardize";
  case LayerKind::LengthNormalize:
    return "LengthNormalize";
  }
  return "?";
}

Status checkParam(const ModelDesc &model, int32_t index, const std::vector<int64_t> &expected,
                  const std::string &where) {
  if (index < 0 || index >= static_cast<int32_t>(model.params.size()))
    return Status::error(fmt::format("{}: parameter index {} out of range ({} parameters)", where,
                                     index, model.params.size()));
  const ParamDesc &p = model.params[index];
  if (p.shape != expected)
    return Status::error(fmt::format("{}: parameter '{}' has shape {}, expected {}", where, p.name,
                                     shapeText(p.shape), shapeText(expected)));
  if (p.init == ParamInit::Value && static_cast<int64_t>(p.value.size()) != elementCount(p.shape))
    return Status::error(fmt::format("{}: parameter '{}' carries {} initial values for {} elements",
                                     where, p.name, p.value.size(), elementCount(p.shape)));
  return Status::success();
}

Status checkLayer(const ModelDesc &model, const BlockDesc &block, size_t i) {
  const LayerDesc &layer = block.layers[i];
  std::string where = fmt::format("block '{}' layer {} ({})", block.name, i, kindName(layer.kind));
  const auto &in = layer.inShape, &out = layer.outShape;
  for (int d = 0; d < 4; ++d)
    if (in[d] <= 0 || out[d] <= 0)
      return Status::error(fmt::format("{}: bad shapes {} -> {}", where, shapeText(in),
                                       shapeText(out)));
  switch (layer.kind) {
  case LayerKind::Conv2D: {
    cpu::Window win = layerWindow(layer);
    int64_t oh = (in[2] + win.pt + win.pb - win.kh) / win.sh + 1;
    int64_t ow = (in[3] + win.pl + win.pr - win.kw) / win.sw + 1;
    if (out[0] != in[0] || out[2] != oh || out[3] != ow)
      return Status::error(fmt::format("{}: output shape {} does not follow from input {}", where,
                                       shapeText(out), shapeText(in)));
    LOCUS_RETURN_IF_ERROR(
        checkParam(model, layer.weight, {out[1], in[1], win.kh, win.kw}, where + " weight"));
    if (layer.bias >= 0)
      LOCUS_RETURN_IF_ERROR(checkParam(model, layer.bias, {out[1]}, where + " bias"));
    return Status::success();
  }
  case LayerKind::ConvReluMaxPool2D: {
    cpu::Window conv = layerWindow(layer), pool = poolWindow(layer);
    cpu::Shape4 xs{in[0], in[1], in[2], in[3]};
    if (!cpu::convReluPoolApplies(xs, conv, pool))
      return Status::error(fmt::format(
          "{}: the fused CPU kernels take a 3x3 convolution with stride 1 and padding 1, then a "
          "2x2 stride-2 max-pool, on maps of even size; this layer has a {}x{} convolution "
          "(stride {}, padding {}) and a {}x{} pool (stride {}) on {}x{} maps",
          where, conv.kh, conv.kw, conv.sh, conv.pt, pool.kh, pool.kw, pool.sh, in[2], in[3]));
    if (out[0] != in[0] || out[2] != in[2] / 2 || out[3] != in[3] / 2)
      return Status::error(fmt::format("{}: output shape {} does not follow from input {}", where,
                                       shapeText(out), shapeText(in)));
    LOCUS_RETURN_IF_ERROR(
        checkParam(model, layer.weight, {out[1], in[1], conv.kh, conv.kw}, where + " weight"));
    if (layer.bias >= 0)
      LOCUS_RETURN_IF_ERROR(checkParam(model, layer.bias, {out[1]}, where + " bias"));
    return Status::success();
  }
  case LayerKind::Relu:
  case LayerKind::Triangle:
    if (in != out)
      return Status::error(fmt::format("{}: changes the shape {} -> {}", where, shapeText(in),
                                       shapeText(out)));
    return Status::success();
  case LayerKind::MaxPool2D:
  case LayerKind::ReluMaxPool2D:
  case LayerKind::AvgPool2D: {
    int64_t oh = (in[2] + layer.pad[0] + layer.pad[2] - layer.kernel[0]) / layer.stride[0] + 1;
    int64_t ow = (in[3] + layer.pad[1] + layer.pad[3] - layer.kernel[1]) / layer.stride[1] + 1;
    if (out[0] != in[0] || out[1] != in[1] || out[2] != oh || out[3] != ow)
      return Status::error(fmt::format("{}: output shape {} does not follow from input {}", where,
                                       shapeText(out), shapeText(in)));
    return Status::success();
  }
  case LayerKind::Standardize:
  case LayerKind::LengthNormalize:
    return Status::error(fmt::format(
        "rule '{}' is not supported by the CPU runtime yet ({}: layer kind {} is not implemented)",
        block.loss.rule, where, kindName(layer.kind)));
  }
  return Status::error(where + ": unknown layer kind");
}

Status checkLoss(const ModelDesc &model, int32_t l) {
  const BlockDesc &block = model.blocks[l];
  const LossDesc &loss = block.loss;
  auto unsupported = [&](const std::string &what) {
    return Status::error(fmt::format(
        "rule '{}' is not supported by the CPU runtime yet (block '{}': {})", loss.rule,
        block.name, what));
  };
  if (loss.score == "cosine") {
    // BP-InfoNCE: a shared projection head on the block's own pooled output.
    if (loss.f != "infonce" || loss.context != "same" || loss.projection == "identity")
      return unsupported("cosine score needs f = infonce, context same and a projection");
    int64_t d = lossDimOf(model, l);
    return checkParam(model, block.projection, {d, d},
                      fmt::format("block '{}' loss projection", block.name));
  }
  GoodnessRule goodness = goodnessRuleOf(loss);
  if (goodness != GoodnessRule::None) {
    // FF and SCFF: softplus on the goodness of the whole block output.
    bool ff = goodness == GoodnessRule::ForwardForward;
    if (goodnessRuleOf(model.blocks.front().loss) != goodness)
      return unsupported("every block must use the same goodness rule (FF or SCFF)");
    if (loss.mode != "local")
      return unsupported("goodness rules train locally only");
    if (loss.f != "softplus" || loss.projection != "identity" || loss.pool != kPoolNone)
      return unsupported("the goodness score needs f = softplus, an identity projection and "
                         "no loss pooling");
    if (loss.negatives != (ff ? "hybrid" : "roll"))
      return unsupported(fmt::format("{} needs {} negatives, not {}", ff ? "FF" : "SCFF",
                                     ff ? "hybrid" : "roll", loss.negatives));
    if (model.inputShape[0] < 4)
      return Status::error(fmt::format("block '{}' loss: {} negatives need at least 2 images "
                                       "(4 views) per step",
                                       block.name, loss.negatives));
    return Status::success();
  }
  if (loss.score != "bilinear")
    return unsupported("score " + loss.score);
  if (loss.f != "hinge" && loss.f != "softplus" && loss.f != "linear" && loss.f != "logistic")
    return unsupported("f = " + loss.f);
  if (loss.form != "contrastive" && loss.form != "difference")
    return unsupported("form " + loss.form);
  if (loss.negatives != "next" && loss.negatives != "random")
    return unsupported(loss.negatives + " negatives");
  if (loss.projection != "trainable" && loss.projection != "identity")
    return unsupported(loss.projection + " projection");
  if (loss.context != "same" && loss.context != "top" && loss.context != "both")
    return unsupported("context " + loss.context);

  std::string where = fmt::format("block '{}' loss", block.name);
  int64_t views = model.inputShape[0];
  if (loss.negatives == "random" && views < 3)
    return Status::error(where + ": random negatives need at least 3 views per step");
  int32_t m = contextBlockOf(model, l);
  if (m < 0 || m >= static_cast<int32_t>(model.blocks.size()))
    return Status::error(fmt::format("{}: context block {} does not exist", where, m));
  cpu::Shape4 h = blockOutShape(block, 1), hc = blockOutShape(model.blocks[m], 1);
  for (auto [shape, k] : {std::pair{h, loss.pool}, std::pair{hc, contextPoolOf(model, l)}})
    if (k < kPoolNone || k > shape.h || k > shape.w)
      return Status::error(fmt::format("{}: pooling kernel {} does not fit the {}x{} map", where,
                                       k, shape.h, shape.w));
  int64_t d = lossDimOf(model, l), dc = contextDimOf(model, l);
  if (loss.dim > 0 && loss.dim != d)
    return Status::error(fmt::format("{}: descriptor says D = {}, the shapes give {}", where,
                                     loss.dim, d));
  if (loss.context != "same" && loss.contextDim > 0 && loss.contextDim != dc)
    return Status::error(fmt::format("{}: descriptor says Dc = {}, the shapes give {}", where,
                                     loss.contextDim, dc));
  int64_t projCols = loss.context == "same" ? d : dc;
  if (loss.projection == "identity") {
    if (d != projCols)
      return Status::error(fmt::format("{}: an identity projection needs D = Dc, got {} and {}",
                                       where, d, projCols));
    if (loss.context == "both")
      return unsupported("identity projection with context both");
    return Status::success();
  }
  LOCUS_RETURN_IF_ERROR(checkParam(model, block.projection, {d, projCols}, where + " projection"));
  if (loss.context == "both")
    LOCUS_RETURN_IF_ERROR(
        checkParam(model, block.lateralProjection, {d, d}, where + " lateral projection"));
  return Status::success();
}

/// The backward pass the compiler derived must be a chain the engine can run:
/// Data steps walk down from the top layer one layer at a time, a Params
/// step (convolutions only) reads the gradient at its layer's output, every
/// conv the chain reaches is trained, and only a global-mode block above the
/// first hands dL/dx down.
Status checkBackward(const ModelDesc &model, int32_t l, bool global) {
  const BlockDesc &b = model.blocks[l];
  std::string where = fmt::format("block '{}' backward pass", b.name);
  bool wantInput = global && l > 0;
  if (b.inputGradient != wantInput)
    return Status::error(where + (wantInput ? ": a global-mode block must hand dL/dx down"
                                            : ": computes the gradient of the block input, "
                                              "which only global mode may"));
  int32_t at = static_cast<int32_t>(b.layers.size()) - 1; // dy is the gradient at at's output
  std::vector<bool> trained(b.layers.size(), false);
  for (const GradStep &step : b.backward) {
    const LayerDesc &layer = b.layers[step.layer];
    if (step.layer != at)
      return Status::error(fmt::format("{}: step on layer {} where the gradient is at layer {}",
                                       where, step.layer, at));
    if (step.kind == GradStep::Kind::Params) {
      if (!hasConvWeights(layer.kind) || trained[at])
        return Status::error(fmt::format("{}: bad parameter step on layer {}", where, at));
      trained[at] = true;
    } else {
      if (layer.kind == LayerKind::ConvReluMaxPool2D)
        return Status::error(fmt::format(
            "{}: layer {} (ConvReluMaxPool2D) has no input gradient; locus-fuse-conv-relu-pool "
            "fuses only where none is needed: recompile with this locusc",
            where, at));
      --at;
    }
  }
  if (wantInput ? at != -1 : at < 0)
    return Status::error(where + (wantInput ? " does not reach the block input"
                                            : " reaches the block input in a local rule"));
  for (int32_t i = std::max(at, 0); i < static_cast<int32_t>(b.layers.size()); ++i)
    if (hasConvWeights(b.layers[i].kind) && !trained[i])
      return Status::error(fmt::format("{}: the conv of layer {} gets no gradient", where, i));
  return Status::success();
}

} // namespace

Status validateForCpu(const ModelDesc &model) {
  if (model.blocks.empty())
    return Status::error("the model has no blocks");
  const auto &input = model.inputShape;
  if (input[0] < 2 || input[0] % 2 != 0 || input[1] <= 0 || input[2] <= 0 || input[3] <= 0)
    return Status::error(fmt::format(
        "the model input {} is not [2B views, C, H, W] with an even, positive view count",
        shapeText(input)));
  bool global = model.blocks.back().loss.mode == "global";
  std::array<int64_t, 4> expected = input;
  for (size_t l = 0; l < model.blocks.size(); ++l) {
    const BlockDesc &block = model.blocks[l];
    if ((block.loss.mode == "global") != global)
      return Status::error(fmt::format(
          "block '{}' has mode '{}' but the top block has mode '{}': mixing local and global "
          "blocks is not supported",
          block.name, block.loss.mode, model.blocks.back().loss.mode));
    if (block.loss.mode != "local" && block.loss.mode != "global")
      return Status::error(fmt::format("block '{}': unknown mode '{}'", block.name,
                                       block.loss.mode));
    if (block.layers.empty())
      return Status::error(fmt::format("block '{}' has no layers", block.name));
    for (size_t i = 0; i < block.layers.size(); ++i) {
      if (block.layers[i].inShape != expected)
        return Status::error(fmt::format(
            "block '{}' layer {}: input shape {} does not match the previous output {}",
            block.name, i, shapeText(block.layers[i].inShape), shapeText(expected)));
      LOCUS_RETURN_IF_ERROR(checkLayer(model, block, i));
      expected = block.layers[i].outShape;
    }
    if (!global || l + 1 == model.blocks.size())
      LOCUS_RETURN_IF_ERROR(checkLoss(model, static_cast<int32_t>(l)));
    LOCUS_RETURN_IF_ERROR(checkBackward(model, static_cast<int32_t>(l), global));
  }
  return Status::success();
}

} // namespace locus::rt::train
