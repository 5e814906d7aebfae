//===- locus-plot.cpp - a figure of a training run's metrics --------------===//
//
//   locus-plot METRICS.jsonl [-o OUT.svg]
//
// Draws the --metrics log a training binary wrote as an SVG: each block's
// local loss against the step, and the linear probe's accuracy when the run
// had one (writePlot, which the training binary also calls). The figure goes
// to OUT.svg, by default METRICS with its extension replaced by ".svg", and
// is only written when the whole log reads.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/Plot.h"

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace {

constexpr const char *kUsage = "usage: locus-plot METRICS.jsonl [-o OUT.svg]\n";

int usageError(const std::string &message) {
  fmt::print(stderr, "error: {}\n{}", message, kUsage);
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string metrics, svg;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}\nDraws a training binary's --metrics log as an SVG: each block's loss "
                 "against the step, and the\nlinear probe's accuracy if the log has one. "
                 "OUT.svg defaults to METRICS with the extension .svg.\n",
                 kUsage);
      return 0;
    }
    if (arg == "-o") {
      if (i + 1 == argc)
        return usageError("-o needs a file name");
      svg = argv[++i];
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError(fmt::format("unknown option '{}'", arg));
    } else if (metrics.empty()) {
      metrics = arg;
    } else {
      return usageError(fmt::format("one metrics file only ('{}' and '{}')", metrics, arg));
    }
  }
  if (metrics.empty())
    return usageError("no metrics file");
  if (svg.empty())
    svg = locus::rt::train::defaultPlotPath(metrics);
  locus::rt::Status status = locus::rt::train::writePlot(metrics, svg);
  if (!status.isOk()) {
    fmt::print(stderr, "error: {}\n", status.message());
    return 1;
  }
  return 0;
}
