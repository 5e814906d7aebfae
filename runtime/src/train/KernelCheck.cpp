//===- KernelCheck.cpp - does the compiled model have every kernel? -------===//
//
// The runtime holds no loss, activation, pooling or update math: a model
// runs only with the compiled kernels it needs. Checked once, before an
// engine exists, so a mismatched object fails at start with the kernel named.
//
//===----------------------------------------------------------------------===//
#include "KernelCheck.h"

#include "ModelInfo.h"

#include <fmt/format.h>

#include <string>

namespace locus::rt::train {

Status checkCompiledKernels(const ModelDesc &model, const cpu::ModelKernels &kernels) {
  if (const cpu::LossPoolKernels *table = kernels.lossPools) {
    // Every loss pooling the model runs must be in the compiled table: each
    // block's output with its kernel, and the direct-feedback contexts.
    for (size_t l = 0; l < model.blocks.size(); ++l) {
      auto check = [&](const BlockDesc &block, int64_t k) -> Status {
        const auto &s = block.outShape;
        if (k == kPoolNone || table->find(s[1], s[2], s[3], k))
          return Status::success();
        return Status::error(fmt::format(
            "the compiled model has no loss pooling kernel for block '{}' ([{}, {}, {}], kernel "
            "{}); recompile it with this locusc",
            block.name, s[1], s[2], s[3], k));
      };
      int32_t index = static_cast<int32_t>(l);
      LOCUS_RETURN_IF_ERROR(check(model.blocks[l], model.blocks[l].loss.pool));
      bool evaluated = model.blocks.back().loss.mode != "global" || l + 1 == model.blocks.size();
      if (evaluated && model.blocks[l].loss.context != "same")
        LOCUS_RETURN_IF_ERROR(
            check(model.blocks[contextBlockOf(model, index)], contextPoolOf(model, index)));
    }
  }
  if (const cpu::ReluPoolKernels *table = kernels.reluPools) {
    // Every relu + max-pool that locusc compiles must be in the table.
    for (const BlockDesc &block : model.blocks)
      for (size_t i = 0; i < block.layers.size(); ++i) {
        const LayerDesc &layer = block.layers[i];
        const auto &s = layer.inShape;
        if (reluPoolIsCompiled(layer) &&
            !table->find(s[1], s[2], s[3], layer.kernel[0], layer.kernel[1]))
          return Status::error(fmt::format(
              "the compiled model has no relu + max-pool kernel for block '{}' layer {} ([{}, "
              "{}, {}], window {}x{}); recompile it with this locusc",
              block.name, i, s[1], s[2], s[3], layer.kernel[0], layer.kernel[1]));
      }
  }
  // Every loss and its gradient exist only as compiled kernels.
  for (size_t l = 0; l < model.blocks.size(); ++l) {
    const BlockDesc &block = model.blocks[l];
    bool evaluated = model.blocks.back().loss.mode != "global" || l + 1 == model.blocks.size();
    if (!evaluated)
      continue;
    const abi::LossKernels *losses = kernels.losses;
    std::string name;
    bool found = false;
    if (block.loss.score == "bilinear") {
      name = abi::bilinearLossKernelName(block.loss.f, block.loss.form, block.loss.negatives);
      found = losses && losses->bilinear.find(name);
    } else if (block.loss.score == "cosine") {
      name = "locus_infonce_loss";
      found = losses && losses->infoNce;
    } else {
      name = abi::goodnessLossKernelName(block.loss.score);
      found = losses && losses->goodness.find(name);
    }
    if (!found)
      return Status::error(fmt::format(
          "the compiled model has no loss kernel '{}' for block '{}' (rule {}); recompile it "
          "with this locusc",
          name, block.name, block.loss.rule));
  }
  if (!kernels.activations)
    for (const BlockDesc &block : model.blocks)
      for (size_t i = 0; i < block.layers.size(); ++i)
        if (block.layers[i].kind == LayerKind::Relu || block.layers[i].kind == LayerKind::Triangle)
          return Status::error(fmt::format(
              "the compiled model has no activation kernels for block '{}' layer {}; recompile "
              "it with this locusc",
              block.name, i));
  if (!kernels.pooling)
    for (const BlockDesc &block : model.blocks) {
      bool pools = block.loss.pool != kPoolNone;
      for (const LayerDesc &layer : block.layers)
        pools = pools || layer.kind == LayerKind::MaxPool2D ||
                layer.kind == LayerKind::AvgPool2D || layer.kind == LayerKind::ReluMaxPool2D;
      if (pools)
        return Status::error(fmt::format(
            "the compiled model has no pooling kernels for block '{}'; recompile it with this "
            "locusc",
            block.name));
    }
  if (!kernels.update)
    return Status::error("the compiled model has no update kernels; recompile it with this "
                         "locusc");
  if (!kernels.goodnessInputs &&
      isGoodnessLoss(model.blocks.front().loss))
    return Status::error(fmt::format(
        "the compiled model has no goodness input kernels for rule {}; recompile it with this "
        "locusc",
        model.blocks.front().loss.rule));
  return Status::success();
}

} // namespace locus::rt::train
