//===- Plot.h - an SVG figure of a run's --metrics log ----------*- C++ -*-===//
//
// locus-plot, and the training binary at the end of a run, turn the JSON-lines
// metrics (Metrics.h) into one self-contained SVG: each block's local loss
// against the step and, when the log has one, the linear probe's accuracy.
// Reading and drawing are separate so each can be tested alone.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_PLOT_H
#define LOCUS_RUNTIME_TRAIN_PLOT_H

#include "locus/runtime/Error.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace locus::rt::train {

/// One "probe" record. Accuracies are fractions; NaN where the record has none.
struct ProbeAccuracy {
  double test = std::numeric_limits<double>::quiet_NaN();
  double train = std::numeric_limits<double>::quiet_NaN();
  int64_t features = 0, epochs = 0;
  int64_t step = -1; ///< the last step its run logged before it; -1: none
};

/// What a metrics log holds for the figure.
struct MetricsSeries {
  /// From the last "run" record; empty where the log has none.
  std::string model, rules, mode, optimizer;
  /// One a block: the run record's "blocks", else the held-out records'
  /// block names, else "block 1".."block L".
  std::vector<std::string> blocks;
  /// The logged steps, ascending and unique (a resumed run's repeated step
  /// keeps its last value).
  std::vector<int64_t> steps;
  /// loss[block][i]: that block's loss at steps[i]; NaN where it has none
  /// (null in the log: global mode's lower blocks, a non-finite loss).
  std::vector<std::vector<double>> loss;
  std::vector<ProbeAccuracy> probes; ///< in file order
};

/// Reads a --metrics log. Records of a type it does not know are skipped; a
/// line that is not a JSON object, or a step record without a numeric "step"
/// and a "loss" array, is an error naming PATH:LINE.
Status readMetrics(const std::string &path, MetricsSeries &out);

/// The figure: a line chart of each block's loss against the step (a gap
/// where a value is missing), a legend, and the probe accuracies if any.
std::string renderLossSvg(const MetricsSeries &series);

/// `metricsPath` with its extension replaced by ".svg" (added if it has none).
std::string defaultPlotPath(const std::string &metricsPath);

/// Reads `metricsPath` and writes its figure to `svgPath` (temporary file in
/// the same folder, then rename: a failure leaves no partial SVG). A log
/// without step records is an error.
Status writePlot(const std::string &metricsPath, const std::string &svgPath);

} // namespace locus::rt::train

#endif
