#include "ModelInfo.h"

namespace locus::rt::train {

int64_t lossDim(cpu::Shape4 h, int64_t k) {
  if (k == kPoolNone)
    return h.c * h.h * h.w;
  if (k == kPoolGlobal)
    return h.c;
  return h.c * (h.h / k) * (h.w / k);
}

bool isGoodnessLoss(const LossDesc &loss) {
  return loss.score == "sum_squares" || loss.score == "mean_relu_squares";
}

bool reluPoolIsCompiled(const LayerDesc &layer) {
  if (layer.kind != LayerKind::ReluMaxPool2D)
    return false;
  cpu::Window w;
  w.kh = layer.kernel[0];
  w.kw = layer.kernel[1];
  w.sh = layer.stride[0];
  w.sw = layer.stride[1];
  w.pt = layer.pad[0];
  w.pl = layer.pad[1];
  w.pb = layer.pad[2];
  w.pr = layer.pad[3];
  return w.tiles();
}

int64_t elementCount(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  return count;
}

int32_t contextBlockOf(const ModelDesc &model, int32_t l) {
  const LossDesc &loss = model.blocks[l].loss;
  // The descriptor resolves the default ("the last block") at compile time;
  // -1 means this block itself.
  if (loss.context == "same" || loss.contextBlock < 0)
    return l;
  return loss.contextBlock;
}

int64_t contextPoolOf(const ModelDesc &model, int32_t l) {
  const LossDesc &loss = model.blocks[l].loss;
  if (loss.context == "same")
    return loss.pool;
  return loss.contextPool == kPoolAuto ? model.blocks[contextBlockOf(model, l)].loss.pool
                                       : loss.contextPool;
}

cpu::Shape4 blockOutShape(const BlockDesc &block, int64_t n) {
  const auto &s = block.layers.empty() ? block.outShape : block.layers.back().outShape;
  return cpu::Shape4{n, s[1], s[2], s[3]};
}

int64_t lossDimOf(const ModelDesc &model, int32_t l) {
  return lossDim(blockOutShape(model.blocks[l], 1), model.blocks[l].loss.pool);
}

int64_t fanInOf(const ModelDesc &model, int32_t param) {
  const ParamDesc &p = model.params[param];
  if (p.fanIn > 0)
    return p.fanIn;
  // A conv's weight [O, C, kh, kw] and its bias share the fan-in C*kh*kw.
  for (const BlockDesc &block : model.blocks) {
    for (const LayerDesc &layer : block.layers)
      if (hasConvWeights(layer.kind) && (layer.weight == param || layer.bias == param)) {
        const ParamDesc &w = model.params[layer.weight];
        int64_t fan = 1;
        for (size_t i = 1; i < w.shape.size(); ++i)
          fan *= w.shape[i];
        return fan;
      }
    // A projection B [D, Dc] is nn.Linear(Dc, D)'s weight: fan-in Dc.
    if (block.projection == param || block.lateralProjection == param)
      return p.shape.size() == 2 ? p.shape[1] : elementCount(p.shape);
  }
  return p.shape.size() >= 2 ? elementCount(p.shape) / p.shape[0] : elementCount(p.shape);
}

std::vector<int32_t> trainedParamsOf(const BlockDesc &block, bool withProjections) {
  std::vector<int32_t> indices;
  for (const LayerDesc &layer : block.layers)
    if (hasConvWeights(layer.kind)) {
      indices.push_back(layer.weight);
      if (layer.bias >= 0)
        indices.push_back(layer.bias);
    }
  if (withProjections && block.loss.projection != "identity") {
    indices.push_back(block.projection);
    if (block.loss.context == "both")
      indices.push_back(block.lateralProjection);
  }
  return indices;
}

} // namespace locus::rt::train
