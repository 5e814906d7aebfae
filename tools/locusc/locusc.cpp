//===- locusc.cpp - the locus compiler driver -----------------------------===//
//
// locusc SPEC [-o OUT] [--emit=mlir|kernels|llvm|obj|exe] [-O0..3] [--target=cpu|cuda]
//        [--mcpu=host|generic|CPU]
//
// Imports an ONNX model spec (.onnx or .onnxtxt) into the locus dialect,
// infers every shape and verifies the learning rules against the network,
// then emits the requested stage. The kernels stage also generates the
// step's kernels (updates, poolings, epilogues, losses) as target-neutral IR;
// the llvm, object and executable stages lower them to host code.
// Errors name the spec file, line and node; the output file is only written
// when compilation succeeds.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusDialect.h"
#include "locus/Dialect/Locus/IR/RulePresets.h"
#include "locus/Target/Cuda/Passes.h"
#include "locus/Target/Pipeline.h"
#include "locus/Frontend/OnnxImport.h"
#include "locus/Support/SpecDiagnostics.h"
#include "locus/Conversion/LocusToDescriptor.h"
#include "locus/Target/ModelDescriptor.h"
#include "locus/runtime/ModelDescriptor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;
namespace rt = locus::rt;

namespace {
/// Pipeline stages in order: each --emit value runs every stage before it.
enum class EmitAction { MLIR, Kernels, Descriptor, LLVM, Object, Executable };
enum class Target { CPU, CUDA };

cl::OptionCategory locusCategory("locus compiler options");

cl::opt<std::string> inputSpec(cl::Positional, cl::Required,
                               cl::desc("<model spec (.onnx or .onnxtxt)>"),
                               cl::cat(locusCategory));
cl::opt<std::string> outputPath("o",
                                cl::desc("Output file ('-' for stdout); without "
                                         "--emit, its extension picks the stage "
                                         "(.mlir, .ll, .o, anything else: exe)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(locusCategory));
cl::opt<EmitAction> emitAction(
    "emit", cl::desc("What to emit:"), cl::init(EmitAction::MLIR),
    cl::values(
        clEnumValN(EmitAction::MLIR, "mlir",
                   "the step program: each block's forward ops, loss, backward "
                   "pass and updates (default)"),
        clEnumValN(EmitAction::Kernels, "kernels",
                   "the step program and its generated kernels, target-neutral "
                   "(linalg, scf, arith, math), before lowering for the CPU"),
        clEnumValN(EmitAction::Descriptor, "descriptor",
                   "the model the object's record describes (parameters, "
                   "blocks, layers, losses) as text"),
        clEnumValN(EmitAction::LLVM, "llvm",
                   "optimised LLVM IR of the compiled kernels and the model "
                   "record"),
        clEnumValN(EmitAction::Object, "obj",
                   "an object file with the kernels and the model record"),
        clEnumValN(EmitAction::Executable, "exe",
                   "the training binary (object + locus runtime)")),
    cl::cat(locusCategory));
cl::opt<unsigned> optLevel("O", cl::Prefix, cl::init(2),
                           cl::desc("Optimisation level 0-3 (default 2)"),
                           cl::value_desc("level"), cl::cat(locusCategory));
cl::opt<Target> target(
    "target", cl::desc("Code generation target:"), cl::init(Target::CPU),
    cl::values(clEnumValN(Target::CPU, "cpu", "host CPU (default)"),
               clEnumValN(Target::CUDA, "cuda", "NVIDIA GPU (PTX for --gpu-chip)")),
    cl::cat(locusCategory));
cl::opt<std::string> gpuChip(
    "gpu-chip",
    cl::desc("With --target=cuda, the oldest GPU architecture the PTX is for: sm_90 "
             "(default: H100, H200) or sm_80 (A100 too); the driver compiles the PTX for "
             "the GPU it finds"),
    cl::value_desc("sm_NN"), cl::init("sm_90"), cl::cat(locusCategory));
cl::opt<std::string> targetCpu(
    "mcpu",
    cl::desc("CPU the kernels are compiled for: 'host' (default: this "
             "machine's CPU and features), 'generic', or an LLVM CPU name "
             "such as x86-64-v3. With --target=cuda the default is 'generic': "
             "the host code only drives the GPU, and runs on the GPU machine"),
    cl::value_desc("cpu"), cl::init("host"), cl::cat(locusCategory));
cl::opt<std::string>
    ruleOverride("rule",
                 cl::desc("Train every block with this rule, keeping each "
                          "block's pooling kernel"),
                 cl::value_desc("name"), cl::cat(locusCategory));
cl::opt<int64_t> batchSize(
    "batch-size",
    cl::desc("Images per step; the data input gets 2x this many views"),
    cl::value_desc("N"), cl::init(0), cl::cat(locusCategory));
cl::opt<std::string>
    annotationFile("annotations",
                   cl::desc("Side file attaching locus.LocalLoss to nodes by "
                            "name ('NODE key=value ...' per line)"),
                   cl::value_desc("file"), cl::cat(locusCategory));
cl::opt<bool> memoryReport(
    "memory-report",
    cl::desc("Print the memory plan per block (parameters, optimizer state, "
             "gradients, activations) and the peak, local and global"),
    cl::cat(locusCategory));
cl::opt<bool> fuseConvReluPool(
    "fuse-conv-relu-pool",
    cl::desc("Compute a block's first conv with its relu + max-pool in one "
             "pass, never storing the conv output (default on; "
             "--fuse-conv-relu-pool=false keeps them apart, for comparisons)"),
    cl::init(true), cl::cat(locusCategory));
cl::opt<bool> allLossKernels(
    "all-loss-kernels",
    cl::desc("Also compile the loss kernels the model does not use "
             "(for tests and benchmarks that switch rules over one object)"),
    cl::Hidden, cl::cat(locusCategory));
cl::opt<bool> gpuTilingOnCpu(
    "gpu-tiling-on-cpu",
    cl::desc("Compile the CPU object from the GPU form of the kernels (tiled and mapped "
             "loops, run as loops): the GPU mapping's index arithmetic, testable without a GPU"),
    cl::Hidden, cl::cat(locusCategory));
cl::list<std::string>
    annotateOptions("annotate",
                    cl::desc("Attach locus.LocalLoss to a node: "
                             "NODE:key=value[,key=value...] (repeatable)"),
                    cl::value_desc("spec"), cl::cat(locusCategory));

LogicalResult checkOptions(MLIRContext &context) {
  Location cli = UnknownLoc::get(&context);
  if (optLevel > 3)
    return emitError(cli) << "-O" << optLevel.getValue() << " is not a level (use -O0 "
                          << "to -O3)";
  if (!ruleOverride.empty() &&
      !llvm::is_contained(locus::getRuleNames(), ruleOverride))
    return emitError(cli) << "unknown rule '" << ruleOverride
                          << "' (expected one of "
                          << llvm::join(locus::getRuleNames(), ", ") << ")";
  if (batchSize.getNumOccurrences() && batchSize < 1)
    return emitError(cli) << "--batch-size must be positive";
  if (target == Target::CUDA && fuseConvReluPool.getNumOccurrences() && fuseConvReluPool)
    return emitError(cli) << "--fuse-conv-relu-pool: the CUDA target runs the convolution "
                             "(cuDNN) and the relu + max-pool (a generated kernel) apart";
  if (gpuChip.getNumOccurrences() && target != Target::CUDA)
    return emitError(cli) << "--gpu-chip: only with --target=cuda";
  if (gpuChip != "sm_80" && gpuChip != "sm_90")
    return emitError(cli) << "--gpu-chip=" << gpuChip
                          << ": expected sm_80 or sm_90 (the PTX runs on that GPU and newer)";
  if (emitAction == EmitAction::Executable && outputPath == "-")
    return emitError(cli) << "--emit=exe needs an output file (-o NAME)";
  return success();
}

/// Without --emit, `-o NAME` picks the stage by extension.
void inferEmitAction() {
  if (emitAction.getNumOccurrences() || outputPath == "-")
    return;
  StringRef ext = llvm::sys::path::extension(outputPath);
  if (ext == ".mlir")
    emitAction = EmitAction::MLIR;
  else if (ext == ".ll")
    emitAction = EmitAction::LLVM;
  else if (ext == ".o")
    emitAction = EmitAction::Object;
  else
    emitAction = EmitAction::Executable;
}

LogicalResult writeObject(ModuleOp module, StringRef path, bool llvmIR = false,
                          bool descriptor = false) {
  rt::ModelDesc model;
  if (failed(locus::buildModelDescriptor(module, model)))
    return failure();
  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(path, &errorMessage);
  if (!output)
    return emitError(UnknownLoc::get(module.getContext())) << errorMessage;
  locus::ObjectOptions objectOptions;
  objectOptions.optLevel = optLevel;
  // A GPU binary is often linked here and run on the GPU machine, whose CPU
  // may lack this one's extensions; its host code only drives the GPU.
  objectOptions.cpu = target == Target::CUDA && !targetCpu.getNumOccurrences()
                          ? std::string("generic")
                          : targetCpu.getValue();
  objectOptions.emitLLVMIR = llvmIR;
  objectOptions.printDescriptor = descriptor;
  if (failed(locus::emitModelObject(module, model, objectOptions, output->os())))
    return failure();
  output->keep();
  return success();
}

LogicalResult writeExecutable(ModuleOp module, StringRef path) {
  llvm::SmallString<128> object;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("locus-model", "o", object))
    return emitError(UnknownLoc::get(module.getContext()))
           << "cannot create a temporary object file: " << ec.message();
  llvm::FileRemover removeObject(object);
  if (failed(writeObject(module, object)))
    return failure();
  return locus::linkTrainingBinary(module, object, path, target == Target::CUDA);
}

LogicalResult compile(MLIRContext &context, llvm::SourceMgr &sourceMgr) {
  inferEmitAction();
  if (failed(checkOptions(context)))
    return failure();

  locus::ImportOptions options;
  if (!ruleOverride.empty())
    options.rule = ruleOverride;
  if (batchSize.getNumOccurrences())
    options.views = 2 * batchSize;
  if (!annotationFile.empty() &&
      failed(locus::parseAnnotationFile(annotationFile, &context, sourceMgr,
                                        options.annotations)))
    return failure();
  for (const std::string &option : annotateOptions)
    if (failed(locus::parseAnnotationOption(option, &context,
                                            options.annotations)))
      return failure();

  OwningOpRef<ModuleOp> module =
      locus::importOnnxSpec(inputSpec, options, &context, sourceMgr);
  if (!module)
    return failure();
  Builder builder(&context);
  (*module)->setAttr("locus.target",
                     builder.getStringAttr(target == Target::CPU ? "cpu"
                                                                 : "cuda"));
  (*module)->setAttr("locus.opt_level", builder.getI64IntegerAttr(optLevel));

  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  locus::TrainingPipelineOptions pipeline;
  pipeline.memoryReport = memoryReport;
  pipeline.fuseConvReluPool = fuseConvReluPool;
  pipeline.allLossKernels = allLossKernels;
  // Code is generated only for the stages that need it, so --emit=mlir shows
  // the step program without the kernels (the memory report needs the step
  // program's arena plan).
  pipeline.codegen = emitAction != EmitAction::MLIR || memoryReport;
  pipeline.lowerKernels = emitAction != EmitAction::Kernels && emitAction != EmitAction::MLIR;
  pipeline.target = target == Target::CPU ? "cpu" : "cuda";
  pipeline.gpuTilingOnCpu = gpuTilingOnCpu;
  pipeline.gpuChip = gpuChip;
  locus::buildTrainingPipeline(pm, pipeline);
  if (failed(pm.run(*module)))
    return failure();

  if (emitAction == EmitAction::LLVM)
    return writeObject(*module, outputPath, /*llvmIR=*/true);
  if (emitAction == EmitAction::Descriptor)
    return writeObject(*module, outputPath, /*llvmIR=*/false, /*descriptor=*/true);
  if (emitAction == EmitAction::Object)
    return writeObject(*module, outputPath);
  if (emitAction == EmitAction::Executable)
    return writeExecutable(*module, outputPath);
  if (memoryReport && outputPath == "-")
    return success(); // the report is the requested output
  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputPath, &errorMessage);
  if (!output) {
    return emitError(UnknownLoc::get(&context)) << errorMessage;
  }
  module->print(output->os());
  output->os() << "\n";
  output->keep(); // only now: a failed compile leaves no output behind
  return success();
}
} // namespace

/// libLLVM registers hundreds of back-end options; --help shows only locusc's
/// own and MLIR's (--mlir-print-ir-*, timing, ...). --help-hidden shows all.
void hideUnrelatedOptions() {
  for (auto &entry : cl::getRegisteredOptions()) {
    StringRef name = entry.first;
    cl::Option *option = entry.second;
    bool ours = llvm::is_contained(option->Categories, &locusCategory);
    bool mlir = name.starts_with("mlir-") || name == "pass-pipeline-crash-reproducer";
    bool generic = name == "help" || name == "help-hidden" || name == "version";
    if (!ours && !mlir && !generic)
      option->setHiddenFlag(cl::Hidden);
  }
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // Before the pass manager options, so --mlir-print-ir-*=PASS can name them.
  locus::registerLocusPasses();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerAsmPrinterCLOptions();
  registerDefaultTimingManagerCLOptions();
  hideUnrelatedOptions();
  cl::ParseCommandLineOptions(
      argc, argv,
      "locusc: compile a neural network with layer-local learning rules\n\n"
      "  locusc SPEC.onnxtxt                        print the step program (locus IR)\n"
      "  locusc SPEC.onnxtxt -o train               link the training binary\n"
      "  locusc SPEC.onnx --annotations=FILE        attach rules by node name\n"
      "  locusc SPEC --rule=clapp++dfb -o out.mlir  switch every block's rule\n"
      "  locusc SPEC --memory-report                the memory plan, local vs global\n\n"
      "Rules: clapp++, clapp++dfb, clapp++both, clapp, ff, scff, phyll, "
      "bp-clapp++, bp-infonce\n");

  DialectRegistry registry;
  registry.insert<locus::LocusDialect, func::FuncDialect>();
  locus::registerCudaTargetInterfaces(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Errors point into the spec; the op dump adds nothing for its author.
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  locus::SpecDiagnosticHandler diagnostics(sourceMgr, &context, "locusc");
  return failed(compile(context, sourceMgr)) ? 1 : 0;
}
