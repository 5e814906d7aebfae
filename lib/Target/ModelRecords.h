//===- ModelRecords.h - the model as typed records in the object -*- C++ -*-===//
//
// The model half of `locus_model` (abi/Model.h): the network's name, target
// and CPU, its parameters (ParamRecord) and its blocks with their layers and
// losses (BlockRecord), as LLVM constants in the object's module.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_LIB_TARGET_MODELRECORDS_H
#define LOCUS_LIB_TARGET_MODELRECORDS_H

#include "locus/runtime/ModelDescriptor.h"

#include "llvm/IR/Constant.h"
#include "llvm/IR/Module.h"

#include <vector>

namespace locus {

/// The ModelRecord fields from `name` to `blockCount`, in order.
std::vector<llvm::Constant *> modelRecordFields(llvm::Module &object, const rt::ModelDesc &model);

} // namespace locus

#endif
