//===- OnnxSpec.cpp - reading ONNX specs, text or binary ------------------===//
#include "OnnxSpec.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"

#include <onnx/defs/parser.h>

using namespace mlir;
using namespace locus;

std::string OnnxSpec::describeNode(const onnx::NodeProto &node) {
  if (!node.name().empty())
    return printable(node.name());
  if (node.output_size() > 0)
    return printable(node.output(0));
  return "<unnamed>";
}

std::string OnnxSpec::printable(StringRef text) {
  std::string out;
  llvm::raw_string_ostream os(out);
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f)
      os << '\\' << llvm::hexdigit(c >> 4) << llvm::hexdigit(c & 15);
    else
      os << c;
  }
  return out;
}

Location OnnxSpec::locOfInput(StringRef name) const {
  auto it = inputLocs.find(name);
  return it == inputLocs.end() ? fileLoc : it->second;
}

namespace {
bool isIdentChar(char c) {
  return llvm::isAlnum(c) || c == '_' || c == '.' || c == '/' || c == ':' ||
         c == '-';
}

/// The text with every '#' comment blanked out, so that scanning for names
/// cannot match inside comments while offsets stay the same.
std::string withoutComments(StringRef text) {
  std::string out = text.str();
  bool inComment = false, inString = false;
  for (char &c : out) {
    if (c == '\n') {
      inComment = false;
      continue;
    }
    if (inComment) {
      c = ' ';
      continue;
    }
    if (c == '"')
      inString = !inString;
    else if (c == '#' && !inString) {
      inComment = true;
      c = ' ';
    }
  }
  return out;
}

/// Offset of the first whole-identifier occurrence of `name` at or after
/// `from` that is followed by `follow` (after blanks), or npos.
size_t findIdentifier(StringRef text, StringRef name, size_t from,
                      StringRef follow) {
  while (true) {
    size_t at = text.find(name, from);
    if (at == StringRef::npos)
      return at;
    size_t end = at + name.size();
    bool startOk = at == 0 || !isIdentChar(text[at - 1]);
    bool endOk = end >= text.size() || !isIdentChar(text[end]);
    if (startOk && endOk) {
      size_t next = text.find_first_not_of(" \t\r\n", end);
      if (follow.empty() ||
          (next != StringRef::npos && follow.contains(text[next])))
        return at;
    }
    from = at + 1;
  }
}

Location locAt(MLIRContext *ctx, StringRef path, StringRef text,
               size_t offset) {
  StringRef before = text.take_front(offset);
  unsigned line = before.count('\n') + 1;
  size_t lineStart = before.rfind('\n');
  unsigned col = offset - (lineStart == StringRef::npos ? 0 : lineStart + 1) + 1;
  return FileLineColLoc::get(ctx, path, line, col);
}

/// ONNX's text parser recurses once per bracket (graph attributes hold
/// graphs), so deep nesting overflows the stack (found by hand: 50,000
/// nested If branches). Binary specs stop at protobuf's 100 levels; text
/// stops here, far above anything a network needs.
constexpr unsigned kMaxTextNesting = 256;

/// Offset of the first bracket nested deeper than kMaxTextNesting outside
/// strings, or npos. `code` is the text withoutComments.
size_t findTooDeepBracket(StringRef code) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < code.size(); ++i) {
    char c = code[i];
    if (c == '"')
      inString = !inString;
    if (inString)
      continue;
    if (c == '{' || c == '(' || c == '[' || c == '<') {
      if (++depth > kMaxTextNesting)
        return i;
    } else if ((c == '}' || c == ')' || c == ']' || (c == '>' && (i == 0 || code[i - 1] != '='))) &&
               depth > 0) { // "=>" is the graph signature's arrow
      --depth;
    }
  }
  return StringRef::npos;
}

/// `code` is the spec's text withoutComments.
void locateTextSpec(OnnxSpec &spec, MLIRContext *ctx, StringRef code) {
  StringRef t(code);
  const onnx::GraphProto &graph = spec.model.graph();
  // Inputs are declared in the signature: "float[...] name".
  size_t signature = t.find(graph.name());
  if (signature == StringRef::npos)
    signature = 0;
  for (const onnx::ValueInfoProto &input : graph.input()) {
    size_t at = findIdentifier(t, input.name(), signature, "");
    if (at != StringRef::npos)
      spec.inputLocs.insert({input.name(), locAt(ctx, spec.path, t, at)});
  }
  // Nodes start at their first output, "out = Op (...)" or "out, ... =".
  size_t body = t.find('{', signature);
  size_t cursor = body == StringRef::npos ? 0 : body;
  for (const onnx::NodeProto &node : graph.node()) {
    size_t at = node.output_size() == 0
                    ? StringRef::npos
                    : findIdentifier(t, node.output(0), cursor, "=,");
    if (at == StringRef::npos) {
      spec.nodeLocs.push_back(spec.fileLoc);
      continue;
    }
    spec.nodeLocs.push_back(locAt(ctx, spec.path, t, at));
    cursor = at + node.output(0).size();
  }
}

void locateBinarySpec(OnnxSpec &spec, MLIRContext *ctx) {
  for (const onnx::NodeProto &node : spec.model.graph().node())
    spec.nodeLocs.push_back(NameLoc::get(
        StringAttr::get(ctx, OnnxSpec::describeNode(node)), spec.fileLoc));
  for (const onnx::ValueInfoProto &input : spec.model.graph().input())
    spec.inputLocs.insert(
        {input.name(),
         NameLoc::get(StringAttr::get(ctx, OnnxSpec::printable(input.name())),
                      spec.fileLoc)});
}

bool looksLikeText(StringRef path, StringRef contents) {
  StringRef ext = llvm::sys::path::extension(path);
  if (ext == ".onnxtxt" || ext == ".txt")
    return true;
  if (ext == ".onnx")
    return false;
  StringRef first = contents.ltrim();
  return first.starts_with("<") || first.starts_with("#");
}

/// ONNX reports "[ParseError at position (line: L column: C)]\n...".
void reportParseError(OnnxSpec &spec, MLIRContext *ctx,
                      const std::string &message) {
  llvm::Regex position("line: ([0-9]+) column: ([0-9]+)");
  SmallVector<StringRef, 3> match;
  Location loc = spec.fileLoc;
  if (position.match(message, &match)) {
    unsigned line = 0, col = 0;
    match[1].getAsInteger(10, line);
    match[2].getAsInteger(10, col);
    loc = FileLineColLoc::get(ctx, spec.path, line, col);
  }
  // The last line says what was expected; the context line is shown by the
  // diagnostic's source excerpt.
  StringRef what = StringRef(message).rtrim();
  size_t lastLine = what.rfind('\n');
  if (lastLine != StringRef::npos)
    what = what.drop_front(lastLine + 1);
  emitError(loc) << "syntax error in ONNX text spec: " << what;
}
} // namespace

std::unique_ptr<OnnxSpec> locus::loadOnnxSpec(StringRef path,
                                              MLIRContext *ctx,
                                              llvm::SourceMgr &sourceMgr) {
  Location fileLoc = FileLineColLoc::get(ctx, path, 0, 0);
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/false);
  if (std::error_code ec = buffer.getError()) {
    emitError(UnknownLoc::get(ctx))
        << "cannot open model spec '" << path << "': " << ec.message();
    return nullptr;
  }
  StringRef contents = (*buffer)->getBuffer();
  auto spec = std::make_unique<OnnxSpec>(fileLoc);
  spec->path = path.str();
  spec->isText = looksLikeText(path, contents);
  if (contents.empty()) {
    emitError(fileLoc) << "model spec is empty";
    return nullptr;
  }

  if (spec->isText) {
    std::string text = contents.str();
    sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
    // Comments blanked once (offsets kept) for the nesting bound and the locations.
    const std::string code = withoutComments(text);
    if (size_t at = findTooDeepBracket(code); at != StringRef::npos) {
      emitError(locAt(ctx, path, text, at))
          << "syntax error in ONNX text spec: brackets nested deeper than "
          << kMaxTextNesting << " levels";
      return nullptr;
    }
    onnx::Status status;
    onnx::OnnxParser parser(text.c_str());
    try {
      status = parser.Parse(spec->model);
    } catch (const std::exception &e) {
      // ONNX's parser converts what it took for a number with std::stol or
      // std::stod, which throw on a malformed or out-of-range one (found by
      // test/Fuzz: "pads = [1, 1,(1, 1]"). The parser stands just after it.
      reportParseError(*spec, ctx,
                       "at " + parser.GetCurrentPos() + "\nONNX's parser failed in '" +
                           e.what() + "' (a malformed or out-of-range number?)");
      return nullptr;
    }
    if (!status.IsOK()) {
      reportParseError(*spec, ctx, status.ErrorMessage());
      return nullptr;
    }
    locateTextSpec(*spec, ctx, code);
    return spec;
  }

  if (!spec->model.ParseFromArray(contents.data(),
                                  static_cast<int>(contents.size()))) {
    emitError(fileLoc) << "not a valid binary ONNX model (protobuf parsing "
                          "failed: truncated or corrupt file, or nested deeper "
                          "than 100 levels?)";
    return nullptr;
  }
  if (!spec->model.has_graph() || spec->model.graph().node_size() == 0) {
    emitError(fileLoc) << "the ONNX model has no graph nodes";
    return nullptr;
  }
  locateBinarySpec(*spec, ctx);
  return spec;
}
