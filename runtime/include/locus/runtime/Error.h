// Error reporting for the runtime.
//
// Runtime calls that can fail return a Status rather than throwing: the runtime is linked into
// binaries built with the LLVM toolchain's flags, which may disable exceptions, and a failing CUDA
// call is an expected outcome (no driver, out of memory) that callers want to report, not unwind.
// Every message names the failing call and where it was made, so a log line alone locates the bug.
#ifndef LOCUS_RUNTIME_ERROR_H
#define LOCUS_RUNTIME_ERROR_H

#include <string>
#include <string_view>
#include <utility>

namespace locus::rt {

/// The outcome of a runtime call: ok, or an error with a human-readable message.
class [[nodiscard]] Status {
public:
  /// An ok status.
  Status() = default;

  static Status success() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message), true); }

  bool isOk() const { return !failed; }

  /// The error message; empty when ok.
  const std::string &message() const { return text; }

private:
  Status(std::string message, bool isError) : text(std::move(message)), failed(isError) {}

  std::string text;
  bool failed = false;
};

/// Formats "<call> failed at <file>:<line>: <detail>". `file` is shortened to its last path
/// component so messages do not depend on where the source tree was checked out.
std::string formatCallFailure(std::string_view call, std::string_view file, int line,
                              std::string_view detail);

/// `file` without its directories.
std::string_view baseName(std::string_view file);

} // namespace locus::rt

/// Evaluates `expr` (a Status) and returns it from the enclosing function if it is an error.
#define LOCUS_RETURN_IF_ERROR(expr)                                                                \
  do {                                                                                             \
    ::locus::rt::Status locusStatus_ = (expr);                                                     \
    if (!locusStatus_.isOk())                                                                      \
      return locusStatus_;                                                                         \
  } while (false)

#endif // LOCUS_RUNTIME_ERROR_H
