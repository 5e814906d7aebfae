//===- SpecDiagnostics.h - printing errors about model specs ---*- C++ -*-===//
//
// Text specs have real file:line:col locations, which MLIR's
// SourceMgrDiagnosticHandler prints with a source excerpt. Binary specs and
// command-line annotations have no line: they are located as
// NameLoc(node, file:0:0) or NameLoc("--annotate=..."), which MLIR would
// print as "<unknown>:0: loc(...)". This handler prints those as
// "FILE: node 'NODE': error: ..." and "locusc: --annotate=...: error: ...",
// and leaves every other location to the SourceMgr handler.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_SUPPORT_SPECDIAGNOSTICS_H
#define LOCUS_SUPPORT_SPECDIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/SourceMgr.h"

namespace locus {

class SpecDiagnosticHandler {
public:
  SpecDiagnosticHandler(llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context,
                        llvm::StringRef toolName);
  ~SpecDiagnosticHandler();

private:
  mlir::LogicalResult handle(mlir::Diagnostic &diag);

  mlir::SourceMgrDiagnosticHandler sourceMgrHandler;
  mlir::MLIRContext *context;
  std::string toolName;
  mlir::DiagnosticEngine::HandlerID id;
};

} // namespace locus

#endif
