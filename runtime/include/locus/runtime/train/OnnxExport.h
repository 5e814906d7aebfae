//===- OnnxExport.h - the trained encoder as a standard ONNX model -*- C++ -*-===//
//
// Writes the frozen encoder a run trained as an ONNX ModelProto (IR version
// 8, opset 17 of the default domain only: no locus nodes), its parameters as
// initializers, so any ONNX runtime computes what the training binary's probe
// computes (Engine::features, METHOD.md section 5):
//
//   input   images          float32 [batch, C, H, W]
//   output  features        float32 [batch, F]: every block's output pooled
//                           with its loss kernel (average pooling, stride =
//                           kernel; 0: global average; -1: none), flattened
//                           channel-major, the blocks concatenated in order
//   outputs block_<name>    float32 [batch, C_l, H_l, W_l]: each block's raw
//                           output, in block order
//
// The metadata "locus.features" says where each block's features are, as
// JSON: [{"block", "output", "offset", "count", "pool"}, ...] in block order.
//
// Each layer kind maps to standard ops: Conv2D to Conv, Relu to Relu,
// MaxPool2D to MaxPool, ReluMaxPool2D to Relu + MaxPool, ConvReluMaxPool2D to
// Conv + Relu + MaxPool, AvgPool2D to AveragePool (the runtime divides by the
// whole window, so padded windows count their padding), Triangle to
// Relu(x - ReduceMean over channels), Standardize to (x - mean) /
// Sqrt(var + eps) and LengthNormalize to x / (ReduceL2 + eps), both per sample
// over C, H, W. The goodness rules' block inputs are the step program's too:
// Forward-Forward divides every later block's input by its length + 1e-5, SCFF
// standardises every block's input (x - mean) / (std + 1e-5), doubles it
// (s + s) and doubles the convolutions' biases.
//
// The file is written to a temporary name beside `path`, synced and renamed,
// so a failure never leaves half a model; errors name the file.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_ONNXEXPORT_H
#define LOCUS_RUNTIME_TRAIN_ONNXEXPORT_H

#include "locus/runtime/Error.h"
#include "locus/runtime/ModelDescriptor.h"

#include <string>
#include <vector>

namespace locus::rt::train {

/// The ONNX model of `model`'s encoder, as bytes; `params` are the host
/// values of model.params, by index (only the blocks' convolution weights
/// and biases are read; their sizes must match the descriptor).
Status encodeOnnx(const ModelDesc &model, const std::vector<std::vector<float>> &params,
                  std::string &bytes);

/// encodeOnnx, written atomically to `path`.
Status exportOnnx(const ModelDesc &model, const std::vector<std::vector<float>> &params,
                  const std::string &path);

} // namespace locus::rt::train

#endif
