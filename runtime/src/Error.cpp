#include "locus/runtime/Error.h"

#include <fmt/format.h>

namespace locus::rt {

std::string_view baseName(std::string_view file) {
  size_t slash = file.find_last_of("/\\");
  return slash == std::string_view::npos ? file : file.substr(slash + 1);
}

std::string formatCallFailure(std::string_view call, std::string_view file, int line,
                              std::string_view detail) {
  return fmt::format("{} failed at {}:{}: {}", call, baseName(file), line, detail);
}

} // namespace locus::rt
