//===- KernelTables.cpp - the compiled code's half of the model record ----===//
//
// The step program's record (StepCalls.h) and the tables the runtime finds
// the generated kernels in (abi/Model.h): loss poolings and relu + max-pool
// epilogues by shape, loss kernels by name, activation, pooling, goodness
// input and InfoNCE kernels as one record each, the optimizer updates. Each
// is a global of the object's module; ModelRecords.cpp hides them all and
// points the exported record at them.
//
//===----------------------------------------------------------------------===//
#include "KernelTables.h"

#include "locus/Conversion/LocusToStep/StepProgram.h"
#include "locus/runtime/abi/LossKernels.h"
#include "locus/runtime/abi/StepCalls.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/GlobalVariable.h"

using namespace mlir;

namespace {

/// What the record (abi/Model.h) holds of a table: {entries, count}.
using TableRef = llvm::Constant *;

llvm::StructType *tableRefType(llvm::LLVMContext &context) {
  return llvm::StructType::get(
      context, {llvm::PointerType::get(context, 0), llvm::Type::getInt64Ty(context)});
}

/// A constant array of the records, as a global named `name`; returns
/// {entries, count} for the model record.
TableRef addKernelTable(llvm::Module &object, llvm::StructType *record,
                        ArrayRef<llvm::Constant *> records, StringRef name) {
  llvm::LLVMContext &context = object.getContext();
  llvm::Type *i64 = llvm::Type::getInt64Ty(context);
  auto *arrayType = llvm::ArrayType::get(record, records.size());
  auto *table = new llvm::GlobalVariable(object, arrayType, /*isConstant=*/true,
                                         llvm::GlobalValue::ExternalLinkage,
                                         llvm::ConstantArray::get(arrayType, records), name);
  return llvm::ConstantStruct::get(tableRefType(context),
                                   {table, llvm::ConstantInt::get(i64, records.size())});
}

/// The table the runtime finds the loss pooling kernels in: one
/// {C, H, W, k, pool, unpool} record per _mlir_ciface_locus_loss_pool_<C>x<H>x<W>_k<k>
/// (locus-generate-pool-kernels), and its length.
FailureOr<TableRef> addPoolKernelTable(ModuleOp module, llvm::Module &object) {
  llvm::LLVMContext &context = object.getContext();
  llvm::Type *i64 = llvm::Type::getInt64Ty(context);
  llvm::Type *ptr = llvm::PointerType::get(context, 0);
  auto *record = llvm::StructType::get(context, {i64, i64, i64, i64, ptr, ptr});
  constexpr llvm::StringLiteral prefix = "_mlir_ciface_locus_loss_pool_";
  std::vector<llvm::Constant *> records;
  for (llvm::Function &pool : object.functions()) {
    if (!pool.getName().starts_with(prefix))
      continue;
    StringRef suffix = pool.getName().drop_front(prefix.size());
    int64_t c, h, w, k;
    auto [dims, kernel] = suffix.split("_k");
    SmallVector<StringRef> parts;
    dims.split(parts, 'x');
    if (parts.size() != 3 || parts[0].getAsInteger(10, c) || parts[1].getAsInteger(10, h) ||
        parts[2].getAsInteger(10, w) || kernel.getAsInteger(10, k))
      return module.emitError("malformed loss pooling kernel name ") << pool.getName();
    llvm::Function *unpool = object.getFunction(
        ("_mlir_ciface_locus_loss_unpool_" + suffix).str());
    if (!unpool)
      return module.emitError("loss pooling kernel ") << pool.getName() << " has no unpool";
    records.push_back(llvm::ConstantStruct::get(
        record, {llvm::ConstantInt::get(i64, c), llvm::ConstantInt::get(i64, h),
                 llvm::ConstantInt::get(i64, w), llvm::ConstantInt::get(i64, k), &pool,
                 unpool}));
  }
  return addKernelTable(object, record, records, "locus_loss_pool_kernels");
}

/// The table the runtime finds the blocks' relu + max-pool kernels in: one
/// {C, H, W, kh, kw, forward, backward, unindexed forward, in-place backward}
/// record per _mlir_ciface_locus_relu_max_pool_<C>x<H>x<W>_k<kh>x<kw>
/// (locus-generate-relu-pool-kernels; the last two null where the windows do
/// not cover the map), and its length.
FailureOr<TableRef> addReluPoolKernelTable(ModuleOp module, llvm::Module &object) {
  llvm::LLVMContext &context = object.getContext();
  llvm::Type *i64 = llvm::Type::getInt64Ty(context);
  llvm::Type *ptr = llvm::PointerType::get(context, 0);
  auto *record = llvm::StructType::get(context, {i64, i64, i64, i64, i64, ptr, ptr, ptr, ptr});
  constexpr llvm::StringLiteral prefix = "_mlir_ciface_locus_relu_max_pool_";
  std::vector<llvm::Constant *> records;
  for (llvm::Function &forward : object.functions()) {
    if (!forward.getName().starts_with(prefix))
      continue;
    StringRef suffix = forward.getName().drop_front(prefix.size());
    auto [dims, window] = suffix.split("_k");
    SmallVector<StringRef> map, win;
    dims.split(map, 'x');
    window.split(win, 'x');
    int64_t v[5];
    bool bad = map.size() != 3 || win.size() != 2;
    for (int i = 0; i < 5 && !bad; ++i)
      bad = (i < 3 ? map[i] : win[i - 3]).getAsInteger(10, v[i]);
    if (bad)
      return module.emitError("malformed relu + max-pool kernel name ") << forward.getName();
    llvm::Function *backward =
        object.getFunction(("_mlir_ciface_locus_relu_max_unpool_" + suffix).str());
    if (!backward)
      return module.emitError("relu + max-pool kernel ")
             << forward.getName() << " has no backward kernel";
    std::vector<llvm::Constant *> fields;
    for (int64_t x : v)
      fields.push_back(llvm::ConstantInt::get(i64, x));
    fields.push_back(&forward);
    fields.push_back(backward);
    for (StringRef name : {"_mlir_ciface_locus_relu_pool_unindexed_",
                           "_mlir_ciface_locus_relu_unpool_in_place_"}) {
      llvm::Function *f = object.getFunction((name + suffix).str());
      fields.push_back(f ? static_cast<llvm::Constant *>(f)
                         : llvm::ConstantPointerNull::get(llvm::PointerType::get(context, 0)));
    }
    records.push_back(llvm::ConstantStruct::get(record, fields));
  }
  return addKernelTable(object, record, records, "locus_relu_pool_kernels");
}

/// A table of {name, kernel} records, one per _mlir_ciface_<prefix>... kernel,
/// and its length: how the runtime finds the loss kernels
/// (abi/LossKernels.h) by the names the passes give them.
TableRef addNamedKernelTable(llvm::Module &object, StringRef prefix, StringRef name) {
  llvm::LLVMContext &context = object.getContext();
  llvm::Type *ptr = llvm::PointerType::get(context, 0);
  auto *record = llvm::StructType::get(context, {ptr, ptr});
  constexpr llvm::StringLiteral wrapper = "_mlir_ciface_";
  std::vector<llvm::Constant *> records;
  for (llvm::Function &kernel : object.functions()) {
    StringRef kernelName = kernel.getName();
    if (!kernelName.consume_front(wrapper) || !kernelName.starts_with(prefix))
      continue;
    auto *text = llvm::ConstantDataArray::getString(context, kernelName);
    auto *global = new llvm::GlobalVariable(object, text->getType(), /*isConstant=*/true,
                                            llvm::GlobalValue::PrivateLinkage, text,
                                            "locus_kernel_name");
    records.push_back(llvm::ConstantStruct::get(record, {global, &kernel}));
  }
  return addKernelTable(object, record, records, name);
}

/// One record of the entry points of the kernels `names`, in order, as a
/// global `name`; a null pointer if the module has none of them
/// (`pass` emits them all or none).
FailureOr<llvm::Constant *> addKernelRecord(ModuleOp module, llvm::Module &object,
                                            ArrayRef<StringRef> names, StringRef name,
                                            StringRef pass) {
  llvm::LLVMContext &context = object.getContext();
  auto *ptr = llvm::PointerType::get(context, 0);
  auto *record = llvm::StructType::get(context, SmallVector<llvm::Type *>(names.size(), ptr));
  std::vector<llvm::Constant *> fields;
  for (StringRef kernel : names)
    if (llvm::Function *function = object.getFunction(("_mlir_ciface_" + kernel).str()))
      fields.push_back(function);
  if (fields.empty())
    return llvm::ConstantPointerNull::get(ptr);
  if (fields.size() != names.size())
    return module.emitError("the kernels of ") << pass << " are incomplete: run it as a whole";
  auto *global = new llvm::GlobalVariable(object, record, /*isConstant=*/true,
                                          llvm::GlobalValue::ExternalLinkage,
                                          llvm::ConstantStruct::get(record, fields), name);
  return global;
}

/// The loss kernels' tables (abi::LossKernels): bilinear
/// (locus-generate-loss-kernels), goodness and InfoNCE.
FailureOr<llvm::Constant *> addLossKernelTables(ModuleOp module, llvm::Module &object) {
  llvm::LLVMContext &context = object.getContext();
  TableRef bilinear = addNamedKernelTable(object, locus::abi::kBilinearLossPrefix,
                                          "locus_bilinear_loss_kernels");
  TableRef goodness = addNamedKernelTable(object, locus::abi::kGoodnessLossPrefix,
                                          "locus_goodness_loss_kernels");
  FailureOr<llvm::Constant *> infoNce = addKernelRecord(
      module, object,
      {"locus_infonce_normalize", "locus_infonce_loss", "locus_infonce_normalize_adjoint"},
      "locus_infonce_kernels", "locus-generate-infonce-kernels");
  if (failed(infoNce))
    return failure();
  auto *type = llvm::StructType::get(
      context, {tableRefType(context), tableRefType(context), llvm::PointerType::get(context, 0)});
  return llvm::ConstantStruct::get(type, {bilinear, goodness, *infoNce});
}

/// The StepProgram record (StepCalls.h) of the entry points
/// locus-lower-to-step built and locus-plan-arena sized.
FailureOr<llvm::Constant *> addStepProgram(ModuleOp module, ModuleOp kernels,
                                           llvm::Module &object) {
  llvm::LLVMContext &context = object.getContext();
  llvm::Type *i64 = llvm::Type::getInt64Ty(context);
  llvm::Type *ptr = llvm::PointerType::get(context, 0);
  auto *record = llvm::StructType::get(
      context, {i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, ptr, ptr, ptr, ptr});
  std::vector<llvm::Constant *> fields{llvm::ConstantInt::get(i64, locus::abi::kStepProgramVersion)};
  std::vector<llvm::Constant *> entries;
  for (StringRef entry : {locus::kTrainFusedEntry, locus::kTrainEntry, locus::kEvaluateEntry,
                          locus::kFeaturesEntry}) {
    auto bytes = kernels->getAttrOfType<IntegerAttr>((locus::kArenaBytesAttrPrefix + entry).str());
    llvm::Function *function = object.getFunction(("_mlir_ciface_" + entry).str());
    if (!bytes || !function)
      return kernels.emitError("the step program's entry point ")
             << entry << " is missing or unplanned (run locus-lower-to-step and "
             << "locus-plan-arena)";
    fields.push_back(llvm::ConstantInt::get(i64, bytes.getInt()));
    entries.push_back(function);
  }
  for (StringRef name : {locus::kResidentAdamWAttr, locus::kResidentAdamWBf16Attr,
                         locus::kResidentSgdAttr, locus::kWorkspaceAttr}) {
    auto bytes = module->getAttrOfType<IntegerAttr>(name);
    if (!bytes)
      return module.emitError("the memory plan's ") << name << " is missing (run locus-plan-memory)";
    fields.push_back(llvm::ConstantInt::get(i64, bytes.getInt()));
  }
  auto rows = kernels->getAttrOfType<IntegerAttr>(locus::kRowsPerViewAttr);
  if (!rows)
    return kernels.emitError("the step program's rows per view are missing (run "
                             "locus-lower-to-step)");
  fields.push_back(llvm::ConstantInt::get(i64, rows.getInt()));
  fields.insert(fields.end(), entries.begin(), entries.end());
  auto *global = new llvm::GlobalVariable(object, record, /*isConstant=*/true,
                                          llvm::GlobalValue::ExternalLinkage,
                                          llvm::ConstantStruct::get(record, fields),
                                          "locus_step_program");
  return global;
}

/// abi::UpdateKernels: the optimizer updates of locus-generate-update-kernels
/// (null where one is missing).
llvm::Constant *updateKernels(llvm::Module &object) {
  llvm::LLVMContext &context = object.getContext();
  auto *ptr = llvm::PointerType::get(context, 0);
  std::vector<llvm::Constant *> fields;
  for (StringRef name : {"locus_adamw_update", "locus_adamw_bf16_update", "locus_sgd_update",
                         "locus_lars_norms"}) {
    llvm::Function *function = object.getFunction(("_mlir_ciface_" + name).str());
    fields.push_back(function ? static_cast<llvm::Constant *>(function)
                              : llvm::ConstantPointerNull::get(ptr));
  }
  return llvm::ConstantStruct::get(
      llvm::StructType::get(context, SmallVector<llvm::Type *>(fields.size(), ptr)), fields);
}

} // namespace

FailureOr<std::vector<llvm::Constant *>>
locus::kernelRecordFields(ModuleOp module, ModuleOp kernels, llvm::Module &object) {
  FailureOr<llvm::Constant *> program = addStepProgram(module, kernels, object);
  FailureOr<TableRef> lossPools = addPoolKernelTable(module, object);
  FailureOr<TableRef> reluPools = addReluPoolKernelTable(module, object);
  FailureOr<llvm::Constant *> losses = addLossKernelTables(module, object);
  if (failed(program) || failed(lossPools) || failed(reluPools) || failed(losses))
    return failure();
  FailureOr<llvm::Constant *> activations = addKernelRecord(
      module, object,
      {"locus_relu_forward", "locus_relu_backward", "locus_triangle_forward",
       "locus_triangle_backward"},
      "locus_activation_kernels", "locus-generate-activation-kernels");
  FailureOr<llvm::Constant *> pooling = addKernelRecord(
      module, object,
      {"locus_max_pool_forward", "locus_max_pool_backward", "locus_avg_pool_forward",
       "locus_avg_pool_backward"},
      "locus_pooling_kernels", "locus-generate-pooling-kernels");
  FailureOr<llvm::Constant *> goodnessInputs = addKernelRecord(
      module, object,
      {"locus_hybrid_negatives", "locus_length_normalize_rows", "locus_standardize_pairs"},
      "locus_goodness_input_kernels", "locus-generate-goodness-input-kernels");
  FailureOr<llvm::Constant *> precision =
      addKernelRecord(module, object, {"locus_f32_to_bf16", "locus_bf16_to_f32", "locus_bf16_add_to_f32"},
                      "locus_precision_kernels", "locus-generate-precision-kernels");
  if (failed(activations) || failed(pooling) || failed(goodnessInputs) || failed(precision))
    return failure();
  return std::vector<llvm::Constant *>{*program,    updateKernels(object), *lossPools,
                                       *reluPools,  *losses,               *activations,
                                       *pooling,    *goodnessInputs,       *precision};
}
