#include "locus/runtime/train/Metrics.h"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace locus::rt::train {

MetricsLog::~MetricsLog() {
  if (file_)
    std::fclose(file_);
}

Status MetricsLog::open(const std::string &path, bool append) {
  if (path.empty())
    return Status::success();
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (!file_)
    return Status::error(fmt::format("--metrics {}: cannot open: {}", path, std::strerror(errno)));
  return Status::success();
}

void MetricsLog::write(const JsonWriter &object) {
  if (!file_)
    return;
  std::string line = object.str() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

} // namespace locus::rt::train
