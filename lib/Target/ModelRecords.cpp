//===- ModelRecords.cpp - the model record an object exports --------------===//
//
// Every record field is 8 bytes (abi/Model.h), so each record is an LLVM
// struct of i64, double and ptr fields in the C++ order; names are private
// NUL-terminated strings, initial values private float arrays.
//
//===----------------------------------------------------------------------===//
#include "ModelRecords.h"

#include "KernelTables.h"

#include "locus/runtime/abi/Model.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/GlobalVariable.h"

#include <array>

namespace locus {
namespace {

class RecordBuilder {
public:
  explicit RecordBuilder(llvm::Module &object)
      : object(object), context(object.getContext()), i64(llvm::Type::getInt64Ty(context)),
        f64(llvm::Type::getDoubleTy(context)), ptr(llvm::PointerType::get(context, 0)) {}

  llvm::Constant *integer(int64_t v) { return llvm::ConstantInt::get(i64, v); }
  llvm::Constant *real(double v) { return llvm::ConstantFP::get(f64, v); }

  /// A private NUL-terminated string.
  llvm::Constant *string(const std::string &s) {
    auto *data = llvm::ConstantDataArray::getString(context, s);
    return new llvm::GlobalVariable(object, data->getType(), /*isConstant=*/true,
                                    llvm::GlobalValue::PrivateLinkage, data, "locus_name");
  }

  template <size_t N> llvm::Constant *integers(const std::array<int64_t, N> &values) {
    std::vector<llvm::Constant *> elements;
    for (int64_t v : values)
      elements.push_back(integer(v));
    return llvm::ConstantArray::get(llvm::ArrayType::get(i64, N), elements);
  }

  /// A struct of `fields` (its type follows them).
  llvm::Constant *record(const std::vector<llvm::Constant *> &fields) {
    std::vector<llvm::Type *> types;
    for (llvm::Constant *field : fields)
      types.push_back(field->getType());
    return llvm::ConstantStruct::get(llvm::StructType::get(context, types), fields);
  }

  /// A private constant array of `records` (all of one type), or null.
  llvm::Constant *table(const std::vector<llvm::Constant *> &records, const char *name) {
    if (records.empty())
      return llvm::ConstantPointerNull::get(ptr);
    auto *type = llvm::ArrayType::get(records.front()->getType(), records.size());
    return new llvm::GlobalVariable(object, type, /*isConstant=*/true,
                                    llvm::GlobalValue::PrivateLinkage,
                                    llvm::ConstantArray::get(type, records), name);
  }

  llvm::Constant *param(const rt::ParamDesc &p) {
    std::array<int64_t, 4> shape{1, 1, 1, 1};
    for (size_t i = 0; i < p.shape.size() && i < 4; ++i)
      shape[i] = p.shape[i];
    llvm::Constant *values = llvm::ConstantPointerNull::get(ptr);
    if (p.init == rt::ParamInit::Value)
      values = new llvm::GlobalVariable(
          object, llvm::ArrayType::get(llvm::Type::getFloatTy(context), p.value.size()),
          /*isConstant=*/true, llvm::GlobalValue::PrivateLinkage,
          llvm::ConstantDataArray::get(context, llvm::ArrayRef<float>(p.value)),
          "locus_param_values");
    return record({string(p.name), integer(static_cast<int64_t>(p.init)),
                   integer(p.trained ? 1 : 0), integer(p.fanIn),
                   integer(static_cast<int64_t>(p.shape.size())), integers(shape), values});
  }

  llvm::Constant *layer(const rt::LayerDesc &l) {
    return record({integer(static_cast<int64_t>(l.kind)), integer(l.weight), integer(l.bias),
                   integers(l.kernel), integers(l.stride), integers(l.pad),
                   integers(l.poolKernel), integers(l.poolStride), real(l.eps),
                   integers(l.inShape), integers(l.outShape), real(l.scale),
                   real(l.biasScale)});
  }

  llvm::Constant *loss(const rt::LossDesc &s) {
    return record({string(s.rule), string(s.score), string(s.f), string(s.form),
                   string(s.projection), string(s.context), string(s.negatives),
                   string(s.mode), integer(s.contextBlock), integer(s.pool),
                   integer(s.contextPool), real(s.theta), real(s.theta2), real(s.lambda),
                   real(s.temperature), real(s.weight), integer(s.dim), integer(s.contextDim)});
  }

  llvm::Constant *block(const rt::BlockDesc &b) {
    std::vector<llvm::Constant *> layers, inputLayers;
    for (const rt::LayerDesc &l : b.layers)
      layers.push_back(layer(l));
    for (const rt::LayerDesc &l : b.inputLayers)
      inputLayers.push_back(layer(l));
    return record({string(b.name), integers(b.outShape), integer(b.projection),
                   integer(b.lateralProjection), table(layers, "locus_layers"),
                   integer(static_cast<int64_t>(layers.size())),
                   table(inputLayers, "locus_input_layers"),
                   integer(static_cast<int64_t>(inputLayers.size())), loss(b.loss)});
  }

  llvm::Module &object;
  llvm::LLVMContext &context;
  llvm::Type *i64, *f64;
  llvm::PointerType *ptr;
};

/// The ModelRecord fields from `name` to `blockCount`, in order.
std::vector<llvm::Constant *> modelRecordFields(llvm::Module &object,
                                                const rt::ModelDesc &model) {
  RecordBuilder b(object);
  std::vector<llvm::Constant *> features, params, blocks;
  for (const std::string &feature : model.cpuFeatures)
    features.push_back(b.string(feature));
  llvm::Constant *featureTable = llvm::ConstantPointerNull::get(b.ptr);
  if (!features.empty()) {
    auto *type = llvm::ArrayType::get(b.ptr, features.size());
    featureTable = new llvm::GlobalVariable(object, type, /*isConstant=*/true,
                                            llvm::GlobalValue::PrivateLinkage,
                                            llvm::ConstantArray::get(type, features),
                                            "locus_cpu_features");
  }
  for (const rt::ParamDesc &p : model.params)
    params.push_back(b.param(p));
  for (const rt::BlockDesc &block : model.blocks)
    blocks.push_back(b.block(block));
  return {b.string(model.name),
          b.string(model.target),
          b.string(model.cpu),
          featureTable,
          b.integer(static_cast<int64_t>(features.size())),
          b.integers(model.inputShape),
          b.table(params, "locus_params"),
          b.integer(static_cast<int64_t>(params.size())),
          b.table(blocks, "locus_blocks"),
          b.integer(static_cast<int64_t>(blocks.size()))};
}

} // namespace

mlir::LogicalResult addModelRecord(mlir::ModuleOp module, mlir::ModuleOp kernels,
                                   llvm::Module &object, const rt::ModelDesc &model) {
  mlir::FailureOr<std::vector<llvm::Constant *>> code =
      kernelRecordFields(module, kernels, object);
  if (mlir::failed(code))
    return mlir::failure();
  RecordBuilder b(object);
  std::vector<llvm::Constant *> fields = {b.integer(abi::kModelRecordVersion)};
  for (llvm::Constant *field : modelRecordFields(object, model))
    fields.push_back(field);
  fields.insert(fields.end(), code->begin(), code->end());
  // Every definition so far (kernels, tables, the step program) is the
  // record's to reach: none is exported.
  for (llvm::GlobalValue &value : object.global_values())
    if (!value.isDeclaration() && !value.hasLocalLinkage())
      value.setVisibility(llvm::GlobalValue::HiddenVisibility);
  llvm::Constant *record = b.record(fields);
  new llvm::GlobalVariable(object, record->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, record, abi::kModelSymbol);
  return mlir::success();
}

} // namespace locus
