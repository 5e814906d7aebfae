//===- SpecDiagnostics.cpp - printing errors about model specs ------------===//
#include "locus/Support/SpecDiagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace locus;

SpecDiagnosticHandler::SpecDiagnosticHandler(llvm::SourceMgr &sourceMgr,
                                             MLIRContext *context,
                                             StringRef toolName)
    : sourceMgrHandler(sourceMgr, context), context(context),
      toolName(toolName.str()) {
  // Registered after the SourceMgr handler, so it sees diagnostics first.
  id = context->getDiagEngine().registerHandler(
      [this](Diagnostic &diag) { return handle(diag); });
}

SpecDiagnosticHandler::~SpecDiagnosticHandler() {
  context->getDiagEngine().eraseHandler(id);
}

namespace {
/// The prefix for a location without a line, or "" for any other location.
/// A node already named by the message is not named again.
std::string linelessPrefix(Location loc, StringRef toolName,
                           StringRef message) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    Location child = name.getChildLoc();
    if (isa<UnknownLoc>(child))
      return (toolName + ": " + name.getName().getValue()).str();
    auto file = dyn_cast<FileLineColLoc>(child);
    if (file && file.getLine() == 0) {
      std::string node = ("node '" + name.getName().getValue() + "'").str();
      if (message.contains(node))
        return file.getFilename().getValue().str();
      return (file.getFilename().getValue() + ": " + node).str();
    }
    return "";
  }
  if (auto file = dyn_cast<FileLineColLoc>(loc); file && file.getLine() == 0)
    return file.getFilename().getValue().str();
  if (isa<UnknownLoc>(loc))
    return toolName.str();
  return "";
}

StringRef severityName(DiagnosticSeverity severity) {
  switch (severity) {
  case DiagnosticSeverity::Error:
    return "error";
  case DiagnosticSeverity::Warning:
    return "warning";
  case DiagnosticSeverity::Note:
    return "note";
  case DiagnosticSeverity::Remark:
    return "remark";
  }
  return "error";
}
} // namespace

LogicalResult SpecDiagnosticHandler::handle(Diagnostic &diag) {
  std::string message = diag.str();
  std::string prefix = linelessPrefix(diag.getLocation(), toolName, message);
  if (prefix.empty())
    return failure(); // the SourceMgr handler prints it with an excerpt
  llvm::errs() << prefix << ": " << severityName(diag.getSeverity()) << ": "
               << message << "\n";
  for (Diagnostic &note : diag.getNotes()) {
    std::string noteMessage = note.str();
    std::string notePrefix =
        linelessPrefix(note.getLocation(), toolName, noteMessage);
    llvm::errs() << (notePrefix.empty() ? prefix : notePrefix)
                 << ": note: " << noteMessage << "\n";
  }
  return success();
}
