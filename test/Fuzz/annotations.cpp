//===- annotations.cpp - fuzz target: annotation side files, --annotate ---===//
//
// The input up to its first NUL byte is an annotation side file
// (`locusc --annotations=FILE`); each line after it is one `--annotate=`
// option. What parses is attached to a small spec without locus nodes
// (below; its values can be named p1, r1, r2, p2 ...) and compiled as
// `locusc SPEC --annotations=FILE --annotate=...` would (SpecFuzz.h).
// Dictionary: annotations.dict.
//
//===----------------------------------------------------------------------===//
#include "SpecFuzz.h"

#include "locus/Frontend/Annotations.h"

namespace {

/// tiny.onnxtxt (test/Unit/Models) without its locus.LocalLoss nodes.
const char kSpec[] = R"(<ir_version: 8, opset_import: ["" : 17, "locus" : 1]>
tiny (float[8,2,8,8] x,
      float[4,2,3,3] conv1_w, float[4] conv1_b,
      float[6,4,3,3] conv2_w, float[6] conv2_b) => (float[8,6,4,4] r2)
{
  a1 = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (x, conv1_w, conv1_b)
  r1 = Relu (a1)
  p1 = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (r1)
  a2 = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (p1, conv2_w, conv2_b)
  r2 = Relu (a2)
}
)";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace locus::fuzz;
  static ScratchFile spec("annotations-spec.onnxtxt");
  static ScratchFile sideFile("annotations.annotations");
  static const std::string &specPath =
      spec.write(reinterpret_cast<const uint8_t *>(kSpec), sizeof(kSpec) - 1);

  llvm::StringRef input(reinterpret_cast<const char *>(data), size);
  auto [fileText, optionText] = input.split('\0');
  const std::string &path =
      sideFile.write(reinterpret_cast<const uint8_t *>(fileText.data()), fileText.size());

  mlir::MLIRContext &context = contextForNextInput();
  llvm::SourceMgr sourceMgr;
  ErrorCounter errors(context, sourceMgr);
  locus::ImportOptions options;
  // As locusc: the side file first, then the options in order.
  if (mlir::failed(locus::parseAnnotationFile(path, &context, sourceMgr,
                                              options.annotations))) {
    if (!errors.errors)
      violation("annotations", "the side file was refused without an error");
    return 0;
  }
  llvm::SmallVector<llvm::StringRef> lines;
  optionText.split(lines, '\n', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef line : lines)
    if (mlir::failed(locus::parseAnnotationOption(line, &context, options.annotations))) {
      if (!errors.errors)
        violation("annotations", "an --annotate option was refused without an error");
      return 0;
    }
  compileSpec("annotations", specPath, options, context, sourceMgr, errors);
  return 0;
}
