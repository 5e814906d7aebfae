//===- SpecFuzz.h - a model spec through what `locusc SPEC` runs -*- C++ -*-===//
//
// The spec targets (onnx-binary, onnx-text, annotations) run the importer
// and then the pipeline `locusc SPEC` (--emit=mlir) runs before any code is
// generated: import (ONNX checker and shape inference, the locus ops), the
// verifier, locus shape inference, block partition, the block step and the
// memory plan (buildTrainingPipeline with codegen off, target cpu). Errors
// go to MLIR's SourceMgr handler as locusc's do (printing excerpts of the
// spec at the error's line and column), into a null stream.
//
// The contract checked: no crash, no sanitizer report, and every failure
// reports at least one error (a failure without a message is a finding).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_FUZZ_SPECFUZZ_H
#define LOCUS_TEST_FUZZ_SPECFUZZ_H

#include "FuzzSupport.h"

#include "locus/Conversion/Passes.h"
#include "locus/Dialect/Locus/IR/LocusDialect.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"
#include "locus/Frontend/OnnxImport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

// LLVM's BumpPtrAllocator poisons the unused part of each slab when its
// inline code is built with ASan (our code) but not in Debian's libMLIR,
// which then hands out memory from those slabs without unpoisoning it: a
// false use-after-poison. Manual poisoning is off for these targets.
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
extern "C" const char *__asan_default_options() { return "allow_user_poisoning=0"; }
#endif

namespace locus::fuzz {

/// A context as locusc makes one (single-threaded: one input at a time).
class SpecContext {
public:
  SpecContext() : context(makeRegistry(), mlir::MLIRContext::Threading::DISABLED) {
    context.loadAllAvailableDialects();
    context.printOpOnDiagnostic(false);
  }
  mlir::MLIRContext context;

private:
  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry registry;
    registry.insert<locus::LocusDialect, mlir::func::FuncDialect>();
    return registry;
  }
};

/// The context for the next input. Making one (registering the dialects'
/// ops) costs more than most inputs do, so one serves kInputsPerContext
/// inputs, and what they intern (types, attributes, names) stays bounded.
/// The pipeline keeps no other state between inputs.
inline mlir::MLIRContext &contextForNextInput() {
  constexpr unsigned kInputsPerContext = 256;
  static std::unique_ptr<SpecContext> spec;
  static unsigned inputs = 0;
  if (!spec || inputs++ % kInputsPerContext == 0)
    spec = std::make_unique<SpecContext>();
  return spec->context;
}

/// Counts the errors reported while it lives, after printing them with
/// locusc's SourceMgr handler into a null stream.
class ErrorCounter {
public:
  ErrorCounter(mlir::MLIRContext &context, llvm::SourceMgr &sourceMgr)
      : printer(sourceMgr, &context, llvm::nulls()), context(context) {
    // Registered last, so it sees every diagnostic first and passes it on.
    id = context.getDiagEngine().registerHandler([this](mlir::Diagnostic &diag) {
      if (diag.getSeverity() == mlir::DiagnosticSeverity::Error)
        ++errors;
      std::string message = diag.str(); // formatted, as a handler would
      static const bool verbose = std::getenv("LOCUS_FUZZ_VERBOSE") != nullptr;
      if (verbose)
        llvm::errs() << diag.getLocation() << ": " << message << "\n";
      return mlir::failure();
    });
  }
  ~ErrorCounter() { context.getDiagEngine().eraseHandler(id); }
  int errors = 0;

private:
  mlir::SourceMgrDiagnosticHandler printer;
  mlir::MLIRContext &context;
  mlir::DiagnosticEngine::HandlerID id;
};

/// What `locusc` runs on the spec at `path` up to --emit=mlir's output.
inline void compileSpec(const char *target, const std::string &path,
                        const locus::ImportOptions &options, mlir::MLIRContext &context,
                        llvm::SourceMgr &sourceMgr, ErrorCounter &errors) {
  mlir::OwningOpRef<mlir::ModuleOp> module =
      locus::importOnnxSpec(path, options, &context, sourceMgr);
  if (!module) {
    if (!errors.errors)
      violation(target, "the import failed without reporting an error");
    return;
  }
  if (mlir::failed(mlir::verify(*module))) {
    if (!errors.errors)
      violation(target, "the imported module fails the verifier without an error");
    return;
  }
  // buildTrainingPipeline (lib/Target/Pipeline.cpp) with codegen off, for
  // the CPU target: the block step, then the memory plan.
  mlir::PassManager pm(&context);
  locus::BlockStepOptions step;
  step.fuseConvReluPool = true;
  locus::buildBlockStepPipeline(pm, step);
  pm.addPass(locus::createLocusPlanMemory());
  if (mlir::failed(pm.run(*module)) && !errors.errors)
    violation(target, "the pipeline failed without reporting an error");
}

/// One spec input: written to a scratch file named `*.<extension>` (which
/// tells the importer text from binary) and compiled with `options`.
inline int fuzzSpec(const char *target, const char *extension, const uint8_t *data, size_t size) {
  static ScratchFile file(std::string(target) + "." + extension);
  const std::string &path = file.write(data, size);
  mlir::MLIRContext &context = contextForNextInput();
  llvm::SourceMgr sourceMgr;
  ErrorCounter errors(context, sourceMgr);
  compileSpec(target, path, locus::ImportOptions(), context, sourceMgr, errors);
  return 0;
}

} // namespace locus::fuzz

#endif
