//===- descriptor.cpp - fuzz target: compiled model records ---------------===//
//
// readModel (ModelDescriptor.h), which a training binary runs first on its
// object's record (abi/Model.h), on records built from the input
// (ModelRecordCodec.h): the version check, every count, index, enum and
// shape against its bounds. A record it accepts must hold what the runtime
// then relies on; reading an element past a count it should have refused is
// a sanitizer report.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"
#include "ModelRecordCodec.h"

#include "locus/runtime/ModelDescriptor.h"

using namespace locus;

namespace {
const char *const kTarget = "descriptor";

void checkModel(const rt::ModelDesc &model) {
  const int64_t params = static_cast<int64_t>(model.params.size());
  if (model.blocks.empty())
    fuzz::violation(kTarget, "a model without blocks was accepted");
  for (int64_t d : model.inputShape)
    if (d < 1)
      fuzz::violation(kTarget, "an input shape with a dimension below 1 was accepted");
  for (const rt::ParamDesc &p : model.params) {
    if (p.shape.empty() || p.shape.size() > 4)
      fuzz::violation(kTarget, "parameter '" + p.name + "' has a bad rank");
    int64_t count = 1;
    for (int64_t d : p.shape) {
      if (d < 1 || count > (int64_t(1) << 40) / d)
        fuzz::violation(kTarget, "parameter '" + p.name + "' has a bad shape");
      count *= d;
    }
    if (p.count() != count)
      fuzz::violation(kTarget, "parameter '" + p.name + "': count() disagrees");
    if (p.init == rt::ParamInit::Value && static_cast<int64_t>(p.value.size()) != count)
      fuzz::violation(kTarget, "parameter '" + p.name + "' has the wrong number of values");
  }
  auto paramOk = [&](int32_t i) { return i >= -1 && i < params; };
  for (const rt::BlockDesc &b : model.blocks) {
    if (!paramOk(b.projection) || !paramOk(b.lateralProjection))
      fuzz::violation(kTarget, "block '" + b.name + "' names a missing projection");
    if (b.loss.contextBlock < -1 || b.loss.contextBlock >= static_cast<int64_t>(model.blocks.size()))
      fuzz::violation(kTarget, "block '" + b.name + "' names a missing context block");
    for (const auto *layers : {&b.inputLayers, &b.layers})
      for (const rt::LayerDesc &l : *layers) {
        if (!paramOk(l.weight) || !paramOk(l.bias))
          fuzz::violation(kTarget, "a layer of block '" + b.name + "' names a missing parameter");
        if (static_cast<int64_t>(l.kind) < 0 || l.kind > rt::LayerKind::ScaledStandardize)
          fuzz::violation(kTarget, "a layer of block '" + b.name + "' has a bad kind");
        (void)rt::layerName(l.kind);
      }
  }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Decoder decoder(data, size);
  const abi::ModelRecord &record = decoder.model();
  rt::ModelDesc model;
  std::string error;
  if (!rt::readModel(record, model, error)) {
    static const bool verbose = std::getenv("LOCUS_FUZZ_VERBOSE") != nullptr;
    if (verbose)
      std::fprintf(stderr, "descriptor: refused: %s\n", error.c_str());
    if (error.empty())
      fuzz::violation(kTarget, "a record refused without naming what is wrong");
    return 0;
  }
  checkModel(model);
  return 0;
}
