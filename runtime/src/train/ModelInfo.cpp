#include "ModelInfo.h"

#include "Pooling.h"

namespace locus::rt::train {

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

bool needsForeignContext(const ModelDesc &model, int32_t l) {
  return contextBlockOf(model, l) != l;
}

cpu::Shape4 blockOutShape(const BlockDesc &block, int64_t n) {
  const auto &s = block.layers.empty() ? block.outShape : block.layers.back().outShape;
  return Shape4{n, s[1], s[2], s[3]};
}

int64_t lossDimOf(const ModelDesc &model, int32_t l) {
  return lossDim(blockOutShape(model.blocks[l], 1), model.blocks[l].loss.pool);
}

int64_t contextDimOf(const ModelDesc &model, int32_t l) {
  int32_t m = contextBlockOf(model, l);
  return lossDim(blockOutShape(model.blocks[m], 1), contextPoolOf(model, l));
}

cpu::BilinearLossConfig bilinearConfig(const LossDesc &loss) {
  cpu::BilinearLossConfig cfg;
  if (loss.f == "softplus")
    cfg.f = cpu::LossFunction::Softplus;
  else if (loss.f == "linear")
    cfg.f = cpu::LossFunction::Linear;
  else if (loss.f == "logistic")
    cfg.f = cpu::LossFunction::Logistic;
  else
    cfg.f = cpu::LossFunction::Hinge;
  cfg.differenceForm = loss.form == "difference";
  cfg.theta = loss.theta;
  cfg.weight = loss.weight;
  cfg.negatives = loss.negatives == "random" ? cpu::Negatives::Random : cpu::Negatives::Next;
  return cfg;
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
