//===- LocusShapes.cpp - shape functions of the locus ops -----------------===//
#include "ShapeFunctions.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace locus;

namespace {
ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

std::string str(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleave(shape, os, "x");
  return s;
}

LogicalResult expectRank(Operation *op, StringRef what, Value v,
                         int64_t rank) {
  if (shapeOf(v).size() != static_cast<size_t>(rank))
    return op->emitOpError() << what << " must have rank " << rank
                             << ", got tensor<" << str(shapeOf(v)) << ">";
  return success();
}

/// Output size of a window of `kernel` (dilated) moved by `stride` over `in`
/// padded by `padBefore + padAfter`, in floor mode.
FailureOr<int64_t> windowOutput(Operation *op, StringRef axis, int64_t in,
                                int64_t kernel, int64_t stride,
                                int64_t padBefore, int64_t padAfter,
                                int64_t dilation) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = in + padBefore + padAfter;
  if (span > padded)
    return op->emitOpError()
           << "kernel " << kernel << (dilation > 1 ? " (dilated)" : "")
           << " is larger than the padded input " << axis << " " << padded;
  return (padded - span) / stride + 1;
}

FailureOr<Shape> pool2DShape(Operation *op, Value input,
                             ArrayRef<int64_t> kernel,
                             ArrayRef<int64_t> strides,
                             ArrayRef<int64_t> pads) {
  if (failed(expectRank(op, "input", input, 4)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(input);
  FailureOr<int64_t> h =
      windowOutput(op, "height", in[2], kernel[0], strides[0], pads[0],
                   pads[2], 1);
  if (failed(h))
    return failure();
  FailureOr<int64_t> w =
      windowOutput(op, "width", in[3], kernel[1], strides[1], pads[1],
                   pads[3], 1);
  if (failed(w))
    return failure();
  return Shape{in[0], in[1], *h, *w};
}

FailureOr<Shape> sameShape(Operation *op, Value input, int64_t minRank) {
  if (shapeOf(input).size() < static_cast<size_t>(minRank))
    return op->emitOpError() << "input must have rank >= " << minRank
                             << ", got tensor<" << str(shapeOf(input)) << ">";
  return Shape(shapeOf(input));
}
} // namespace

LogicalResult locus::verifyWindowAttrs(Operation *op, ArrayRef<int64_t> kernel,
                                       ArrayRef<int64_t> strides,
                                       ArrayRef<int64_t> pads,
                                       ArrayRef<int64_t> dilations) {
  if (kernel.size() != 2 || strides.size() != 2 || dilations.size() != 2)
    return op->emitOpError("kernel, strides and dilations need 2 entries (h, w)");
  if (pads.size() != 4)
    return op->emitOpError("pads needs 4 entries (top, left, bottom, right)");
  if (llvm::any_of(kernel, [](int64_t k) { return k < 1; }))
    return op->emitOpError("kernel sizes must be positive");
  if (llvm::any_of(strides, [](int64_t s) { return s < 1; }))
    return op->emitOpError("strides must be positive");
  if (llvm::any_of(dilations, [](int64_t d) { return d < 1; }))
    return op->emitOpError("dilations must be positive");
  if (llvm::any_of(pads, [](int64_t p) { return p < 0; }))
    return op->emitOpError("pads must not be negative");
  return success();
}

namespace {
/// The shape of conv2d(input, weight, bias) with the given window attributes.
FailureOr<Shape> conv2DShape(Operation *o, Value input, Value weight, Value bias,
                             ArrayRef<int64_t> s, ArrayRef<int64_t> p,
                             ArrayRef<int64_t> d) {
  if (failed(expectRank(o, "input", input, 4)) ||
      failed(expectRank(o, "weight", weight, 4)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(input), w = shapeOf(weight);
  if (w[1] != in[1])
    return o->emitOpError() << "weight expects " << w[1]
                            << " input channels but the input has " << in[1];
  if (bias) {
    if (failed(expectRank(o, "bias", bias, 1)))
      return failure();
    if (shapeOf(bias)[0] != w[0])
      return o->emitOpError() << "bias has " << shapeOf(bias)[0]
                              << " entries for " << w[0] << " output channels";
  }
  FailureOr<int64_t> h =
      windowOutput(o, "height", in[2], w[2], s[0], p[0], p[2], d[0]);
  if (failed(h))
    return failure();
  FailureOr<int64_t> wd =
      windowOutput(o, "width", in[3], w[3], s[1], p[1], p[3], d[1]);
  if (failed(wd))
    return failure();
  return Shape{in[0], w[0], *h, *wd};
}
} // namespace

FailureOr<Shape> locus::computeResultShape(Conv2DOp op) {
  return conv2DShape(op, op.getInput(), op.getWeight(), op.getBias(),
                     op.getStrides(), op.getPads(), op.getDilations());
}

FailureOr<Shape> locus::computeResultShape(ConvReluMaxPool2DOp op) {
  FailureOr<Shape> conv =
      conv2DShape(op, op.getInput(), op.getWeight(), op.getBias(),
                  op.getStrides(), op.getPads(), op.getDilations());
  if (failed(conv))
    return failure();
  ArrayRef<int64_t> k = op.getPoolKernel(), s = op.getPoolStrides(),
                    p = op.getPoolPads();
  FailureOr<int64_t> h = windowOutput(op, "pooled height", (*conv)[2], k[0],
                                      s[0], p[0], p[2], 1);
  if (failed(h))
    return failure();
  FailureOr<int64_t> w = windowOutput(op, "pooled width", (*conv)[3], k[1],
                                      s[1], p[1], p[3], 1);
  if (failed(w))
    return failure();
  return Shape{(*conv)[0], (*conv)[1], *h, *w};
}

FailureOr<Shape> locus::computeResultShape(ReluOp op) {
  return sameShape(op, op.getInput(), 0);
}
FailureOr<Shape> locus::computeResultShape(TriangleOp op) {
  return sameShape(op, op.getInput(), 2);
}
FailureOr<Shape> locus::computeResultShape(StandardizeOp op) {
  return sameShape(op, op.getInput(), 2);
}
FailureOr<Shape> locus::computeResultShape(LengthNormalizeOp op) {
  return sameShape(op, op.getInput(), 2);
}

FailureOr<Shape> locus::computeResultShape(MaxPool2DOp op) {
  return pool2DShape(op, op.getInput(), op.getKernel(), op.getStrides(),
                     op.getPads());
}
FailureOr<Shape> locus::computeResultShape(ReluMaxPool2DOp op) {
  return pool2DShape(op, op.getInput(), op.getKernel(), op.getStrides(),
                     op.getPads());
}
FailureOr<Shape> locus::computeResultShape(AvgPool2DOp op) {
  return pool2DShape(op, op.getInput(), op.getKernel(), op.getStrides(),
                     op.getPads());
}

FailureOr<Shape> locus::computeResultShape(GlobalAvgPoolOp op) {
  if (failed(expectRank(op, "input", op.getInput(), 4)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  return Shape{in[0], in[1], 1, 1};
}

FailureOr<Shape> locus::computeResultShape(FlattenOp op) {
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  int64_t axis = op.getAxis();
  if (axis < 0 || axis > static_cast<int64_t>(in.size()))
    return op.emitOpError() << "axis " << axis << " is out of range for rank "
                            << in.size();
  int64_t rows = 1, cols = 1;
  for (auto [i, d] : llvm::enumerate(in))
    (static_cast<int64_t>(i) < axis ? rows : cols) *= d;
  return Shape{rows, cols};
}

FailureOr<Shape> locus::computeResultShape(ReshapeOp op) {
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  int64_t total = 1;
  for (int64_t d : in)
    total *= d;
  Shape out;
  int64_t known = 1, inferredAt = -1;
  for (auto [i, entry] : llvm::enumerate(op.getShape())) {
    int64_t d = entry;
    if (d == -1) {
      if (inferredAt >= 0)
        return op.emitOpError("shape may contain -1 only once");
      inferredAt = i;
      out.push_back(1);
      continue;
    }
    if (d == 0) {
      if (i >= in.size())
        return op.emitOpError() << "shape entry " << i
                                << " is 0 but the input has rank " << in.size();
      d = in[i];
    }
    if (d < 0)
      return op.emitOpError() << "invalid shape entry " << d;
    out.push_back(d);
    known *= d;
  }
  if (inferredAt >= 0) {
    if (known == 0 || total % known != 0)
      return op.emitOpError() << "cannot infer the -1 entry: " << total
                              << " elements do not divide by " << known;
    out[inferredAt] = total / known;
    known = total;
  }
  if (known != total)
    return op.emitOpError() << "cannot reshape tensor<" << str(in)
                            << "> (" << total << " elements) to " << str(out)
                            << " (" << known << " elements)";
  return out;
}

FailureOr<Shape> locus::computeResultShape(LinearOp op) {
  Operation *o = op.getOperation();
  if (failed(expectRank(o, "input", op.getInput(), 2)) ||
      failed(expectRank(o, "weight", op.getWeight(), 2)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(op.getInput()), w = shapeOf(op.getWeight());
  bool transposed = op.getTransposeWeight();
  int64_t inFeatures = transposed ? w[1] : w[0];
  int64_t outFeatures = transposed ? w[0] : w[1];
  if (inFeatures != in[1])
    return op.emitOpError() << "weight expects " << inFeatures
                            << " input features but the input has " << in[1];
  if (Value bias = op.getBias()) {
    if (failed(expectRank(o, "bias", bias, 1)))
      return failure();
    if (shapeOf(bias)[0] != outFeatures)
      return op.emitOpError() << "bias has " << shapeOf(bias)[0]
                              << " entries for " << outFeatures << " outputs";
  }
  return Shape{in[0], outFeatures};
}

FailureOr<Shape> locus::computeResultShape(AddOp op) {
  ArrayRef<int64_t> a = shapeOf(op.getLhs()), b = shapeOf(op.getRhs());
  if (a != b)
    return op.emitOpError() << "operands must have the same shape, got tensor<"
                            << str(a) << "> and tensor<" << str(b) << ">";
  return Shape(a);
}

FailureOr<Shape> locus::computeResultShape(ConcatOp op) {
  if (op.getInputs().empty())
    return op.emitOpError("needs at least one input");
  Shape out(shapeOf(op.getInputs().front()));
  int64_t axis = op.getAxis();
  if (axis < 0 || axis >= static_cast<int64_t>(out.size()))
    return op.emitOpError() << "axis " << axis << " is out of range for rank "
                            << out.size();
  for (Value v : op.getInputs().drop_front()) {
    ArrayRef<int64_t> s = shapeOf(v);
    if (s.size() != out.size())
      return op.emitOpError("inputs must have the same rank");
    for (auto [i, d] : llvm::enumerate(s)) {
      if (static_cast<int64_t>(i) == axis)
        continue;
      if (d != out[i])
        return op.emitOpError()
               << "inputs differ in dimension " << i << " (" << out[i]
               << " vs " << d << "); only axis " << axis << " may differ";
    }
    out[axis] += s[axis];
  }
  return out;
}

FailureOr<Shape> locus::computeResultShape(LocalLossOp op) {
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  if (in.size() != 2 && in.size() != 4)
    return op.emitOpError() << "block '" << op.getBlock()
                            << "': output must be a feature map [N,C,H,W] or "
                               "a matrix [N,D], got tensor<"
                            << str(in) << ">";
  return Shape(in);
}
