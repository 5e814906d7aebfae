//===- Metrics.h - the --metrics JSON-lines log -----------------*- C++ -*-===//
//
// One JSON object a line, flushed as written so a run that dies still leaves
// a readable log: {"type": "step" | "epoch" | "heldout" | "probe" | "memory"
// | "run", ...}.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_METRICS_H
#define LOCUS_RUNTIME_TRAIN_METRICS_H

#include "locus/runtime/Error.h"
#include "locus/runtime/train/Json.h"

#include <cstdio>
#include <string>

namespace locus::rt::train {

class MetricsLog {
public:
  MetricsLog() = default;
  MetricsLog(const MetricsLog &) = delete;
  MetricsLog &operator=(const MetricsLog &) = delete;
  ~MetricsLog();

  /// Opens `path`, truncated or (append) added to; an empty path disables
  /// the log.
  Status open(const std::string &path, bool append = false);
  bool enabled() const { return file_ != nullptr; }
  void write(const JsonWriter &object);

private:
  FILE *file_ = nullptr;
};

} // namespace locus::rt::train

#endif
