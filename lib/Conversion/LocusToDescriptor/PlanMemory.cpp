//===- PlanMemory.cpp - what the step program's arena comes on top of ----===//
//
// Problem: the training binary's planned peak must equal its measured peak
// to the byte, and the plan must be the compiler's (embedded in the object),
// not a second model of the runtime. locus-plan-arena places every buffer a
// step uses in one arena; beside it the run keeps only what lives from
// start to end: the parameters, their optimizer state, the step's views, and
// the largest workspace a backend primitive takes.
//
// Method: from the model descriptor, each parameter at the runtime's 64-byte
// allocation granularity, with AdamW's two moments (float32 or bfloat16) or
// SGD's one momentum buffer for each parameter the step trains (the
// descriptor's, from locus.update), and the CPU backend's
// convolution workspace for each conv of the program (its geometry is
// shared with the backend: runtime/src/backend/cpu/ConvGeometry.h); for
// --target=cuda instead the bfloat16 copies --precision bf16 runs the largest
// convolution on (their layout shared with the CUDA backend: ConvStaging.h).
// The bytes go on the module (StepProgram.h's locus.plan.* attributes), and
// the object's StepProgram record carries them to the binary.
//
//===----------------------------------------------------------------------===//
#include "locus/Conversion/LocusToDescriptor.h"
#include "locus/Conversion/LocusToStep/StepProgram.h"
#include "locus/Conversion/Passes.h"
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/backend/cpu/Kernels.h"
#include "locus/runtime/backend/cuda/ConvStaging.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <vector>

namespace locus {
#define GEN_PASS_DEF_LOCUSPLANMEMORY
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {

constexpr int64_t kFloat = 4;

std::string mib(int64_t bytes) {
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format("%10.1f", bytes / 1048576.0);
  return s;
}

/// A buffer as the runtime's tracker counts it: 64-byte granules.
int64_t granules(int64_t bytes) { return bytes <= 0 ? 0 : (bytes + 63) / 64 * 64; }

bool isGoodness(const rt::LossDesc &loss) {
  return loss.score == "sum_squares" || loss.score == "mean_relu_squares";
}

/// The optimizer state of one trained parameter of `elements` floats.
int64_t stateBytes(int64_t elements, bool adamW, bool bf16Moments) {
  const int64_t arrays = adamW ? 2 : 1;
  return arrays * granules(kFloat * (bf16Moments ? (elements + 1) / 2 : elements));
}

/// Parameters, the optimizer state of the trained ones, the views buffers
/// (two on a GPU: the next step's views upload while one step trains).
int64_t residentBytes(const rt::ModelDesc &model, bool adamW, bool bf16Moments,
                      int64_t viewBuffers) {
  const auto &in = model.inputShape;
  int64_t bytes = viewBuffers * granules(kFloat * in[0] * in[1] * in[2] * in[3]);
  for (const rt::ParamDesc &p : model.params)
    bytes += granules(kFloat * p.count()) +
             (p.trained ? stateBytes(p.count(), adamW, bf16Moments) : 0);
  return bytes;
}

/// The largest of `bytes(layer, rows)` over the model's convolutions (FF
/// and SCFF blocks run on 2N rows).
template <typename Bytes> int64_t largestOverConvolutions(const rt::ModelDesc &model, Bytes bytes) {
  const int64_t rows =
      isGoodness(model.blocks.front().loss) ? 2 * model.inputShape[0] : model.inputShape[0];
  int64_t largest = 0;
  for (const rt::BlockDesc &b : model.blocks)
    for (const rt::LayerDesc &layer : b.layers)
      if (rt::hasConvWeights(layer.kind))
        largest = std::max(largest, bytes(layer, rows));
  return largest;
}

/// The largest workspace of the CPU backend's convolutions.
int64_t workspaceBytes(const rt::ModelDesc &model) {
  return largestOverConvolutions(model, [](const rt::LayerDesc &layer, int64_t rows) {
    rt::cpu::Window win{layer.kernel[0], layer.kernel[1], layer.stride[0], layer.stride[1],
                        layer.pad[0],    layer.pad[1],    layer.pad[2],    layer.pad[3]};
    rt::cpu::Shape4 xs{rows, layer.inShape[1], layer.inShape[2], layer.inShape[3]};
    const int64_t out = layer.outShape[1];
    const int64_t floats = layer.kind == rt::LayerKind::Conv2D
                               ? rt::cpu::conv2dWorkspaceFloats(xs, win, out)
                               : rt::cpu::convReluPoolWorkspaceFloats(xs, out);
    return kFloat * floats;
  });
}

/// The CUDA backend's bfloat16 copies under --precision bf16.
int64_t bf16StagingBytes(const rt::ModelDesc &model) {
  return largestOverConvolutions(model, [](const rt::LayerDesc &layer, int64_t rows) {
    return rt::cuda::convStaging(rows, layer.inShape[1], layer.inShape[2], layer.inShape[3],
                                 layer.outShape[1], layer.kernel[0], layer.kernel[1],
                                 layer.stride[0], layer.stride[1], layer.pad[0] + layer.pad[2],
                                 layer.pad[1] + layer.pad[3])
        .bytes;
  });
}

struct PlanMemoryPass
    : public locus::impl::LocusPlanMemoryBase<PlanMemoryPass> {
  using LocusPlanMemoryBase::LocusPlanMemoryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // A network without learning blocks has nothing to plan (the importer
    // has already warned about it; emitting code for it fails later).
    bool hasBlocks = false;
    module.walk([&](BlockOp) { hasBlocks = true; });
    if (!hasBlocks)
      return;
    rt::ModelDesc model;
    if (failed(buildModelDescriptor(module, model)))
      return signalPassFailure();
    auto target = module->getAttrOfType<StringAttr>("locus.target");
    const bool cuda = target && target.getValue() == "cuda";
    const int64_t viewBuffers = cuda ? 2 : 1;
    const int64_t resident = residentBytes(model, /*adamW=*/true, /*bf16Moments=*/false,
                                           viewBuffers),
                  residentBf16 = residentBytes(model, true, true, viewBuffers),
                  residentSgd = residentBytes(model, false, false, viewBuffers);
    // The workspace is the CPU convolutions'. cuDNN's is chosen at run time
    // (the binary prints it beside the plan), so a CUDA plan has none, but it
    // has the bfloat16 copies of --precision bf16.
    const int64_t workspace = cuda ? 0 : workspaceBytes(model);
    const int64_t staging = cuda ? bf16StagingBytes(model) : 0;
    Builder builder(module);
    module->setAttr(kResidentAdamWAttr, builder.getI64IntegerAttr(resident));
    module->setAttr(kResidentAdamWBf16Attr, builder.getI64IntegerAttr(residentBf16));
    module->setAttr(kResidentSgdAttr, builder.getI64IntegerAttr(residentSgd));
    module->setAttr(kWorkspaceAttr, builder.getI64IntegerAttr(workspace));
    if (cuda)
      module->setAttr(kBf16StagingAttr, builder.getI64IntegerAttr(staging));
    if (!report)
      return;
    llvm::raw_ostream &os = llvm::outs();
    os << "memory plan of '" << model.name << "' (MiB, float32, " << model.inputShape[0]
       << " views per step)\n";
    os << llvm::format("%-12s", "block") << "    params optimizer(AdamW)\n";
    for (const rt::BlockDesc &b : model.blocks) {
      int64_t params = 0, state = 0;
      auto add = [&](int32_t i) {
        if (i < 0)
          return;
        params += granules(kFloat * model.params[i].count());
        state += model.params[i].trained ? stateBytes(model.params[i].count(), true, false) : 0;
      };
      for (const rt::LayerDesc &layer : b.layers) {
        add(layer.weight);
        add(layer.bias);
      }
      add(b.projection);
      add(b.lateralProjection);
      os << llvm::format("%-12s", b.name.c_str()) << mib(params) << mib(state) << "\n";
    }
    auto line = [&](const char *label, int64_t bytes) {
      os << llvm::format("  %-37s", label) << mib(bytes) << "\n";
    };
    os << (cuda ? "resident (parameters, optimizer state, views and the next step's views):\n"
                : "resident (parameters, optimizer state, views):\n");
    line("AdamW:", resident);
    line("AdamW, bfloat16 moments:", residentBf16);
    line("SGD / LARS (one momentum buffer):", residentSgd);
    if (cuda) {
      os << "kernel workspace: cuDNN's, chosen when the binary starts (it prints it beside\n"
            "  this plan); every other buffer is the arena's\n";
      os << "bfloat16 copies of the largest convolution's operands (CUDA backend):\n";
      line("--precision bf16:", staging);
      line("--precision tf32 / fp32:", 0);
    } else {
      os << "kernel workspace (largest convolution):\n";
      line("all optimizers:", workspace);
    }
  }
};

} // namespace
