//===- ModelDescriptor.h - the model a compiled object describes -*- C++ -*-===//
//
// The network locusc compiled, as the compiler builds it (LocusToDescriptor)
// and the runtime reads it back from the object's typed record
// (abi/Model.h, readModel): its parameters with names, shapes, initialisers
// and whether the step trains them, its blocks in order with their layers
// and local loss. The step itself, its backward pass and its memory plan
// are the step program's (abi/StepCalls.h). `locusc --emit=descriptor`
// prints it.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_MODELDESCRIPTOR_H
#define LOCUS_RUNTIME_MODELDESCRIPTOR_H

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace locus::abi {
struct ModelRecord;
} // namespace locus::abi

namespace locus::rt {

enum class ParamInit { KaimingUniform, FanInUniform, Zeros, Value };

struct ParamDesc {
  std::string name;
  std::vector<int64_t> shape;
  ParamInit init = ParamInit::KaimingUniform;
  int64_t fanIn = 0;
  /// Whether the step program updates it (a locus.update): it then has
  /// optimizer state. Global mode leaves the lower blocks' projections be.
  bool trained = false;
  std::vector<float> value; // only for ParamInit::Value
  int64_t count() const;
};

enum class LayerKind {
  Conv2D,
  Relu,
  MaxPool2D,
  ReluMaxPool2D, ///< relu then max-pool in one pass (locus-fuse-relu-pool)
  /// conv (weight, bias, kernel, stride, pad) then relu then max-pool
  /// (poolKernel, poolStride) in one pass (locus-fuse-conv-relu-pool)
  ConvReluMaxPool2D,
  AvgPool2D,
  Triangle,
  Standardize,
  LengthNormalize,
  /// scale * (x - mean) / (std + eps) over C, H, W of each sample (SCFF's
  /// input at inference: a block input in BlockDesc::inputLayers)
  ScaledStandardize,
};

/// Whether a layer of this kind carries a convolution's weight (and bias).
inline bool hasConvWeights(LayerKind kind) {
  return kind == LayerKind::Conv2D || kind == LayerKind::ConvReluMaxPool2D;
}

struct LayerDesc {
  LayerKind kind = LayerKind::Relu;
  int32_t weight = -1, bias = -1; // parameter indices (hasConvWeights)
  std::array<int64_t, 2> kernel{1, 1}, stride{1, 1};
  std::array<int64_t, 4> pad{0, 0, 0, 0}; // top, left, bottom, right
  std::array<int64_t, 2> poolKernel{1, 1}, poolStride{1, 1}; // ConvReluMaxPool2D
  double eps = 0.0;                       // Standardize, LengthNormalize, ScaledStandardize
  double scale = 1.0;                     // ScaledStandardize: the factor
  double biasScale = 1.0;                 // hasConvWeights: the factor of the bias
  std::array<int64_t, 4> inShape{}, outShape{};
};

/// The components of #locus.loss, with the dialect's spelling of each value.
struct LossDesc {
  std::string rule = "clapp++";
  std::string score = "bilinear", f = "hinge", form = "contrastive";
  std::string projection = "trainable", context = "same", negatives = "next";
  std::string mode = "local";
  int32_t contextBlock = -1; ///< block index of the context (-1: this block)
  int64_t pool = 0;          ///< kernel; 0 = global average; -1 = none
  int64_t contextPool = 0;   ///< resolved kernel applied to the context block
  double theta = 0, theta2 = 0, lambda = 0, temperature = 1, weight = 1;
  int64_t dim = 0;        ///< D_l, length of the pooled block output
  int64_t contextDim = 0; ///< length of the pooled context
};

struct BlockDesc {
  std::string name;
  /// What the block does to its input before its layers when it computes
  /// features (a goodness rule's normalisation: GoodnessInput.h), then its
  /// layers.
  std::vector<LayerDesc> inputLayers, layers;
  std::array<int64_t, 4> outShape{};
  LossDesc loss;
  /// Parameters of the loss: the projection B (and B_lat for "both"), -1 if none.
  int32_t projection = -1, lateralProjection = -1;
};

struct ModelDesc {
  std::string name;
  std::string target = "cpu";
  /// The CPU the kernels were compiled for and which of checkedCpuFeatures()
  /// it has (CpuFeatures.h); the binary refuses to run without them.
  std::string cpu = "generic";
  std::vector<std::string> cpuFeatures;
  std::array<int64_t, 4> inputShape{}; ///< [views, C, H, W]
  std::vector<ParamDesc> params;
  std::vector<BlockDesc> blocks;
};

/// The dialect's spellings of the enums (the compiler's descriptor dump).
const char *initName(ParamInit init);
const char *layerName(LayerKind kind);

/// The model of a compiled object's record; on failure returns false and
/// sets `error` to the field that is wrong.
bool readModel(const abi::ModelRecord &record, ModelDesc &model, std::string &error);

} // namespace locus::rt

#endif
