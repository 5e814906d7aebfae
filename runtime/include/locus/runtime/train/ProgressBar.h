//===- ProgressBar.h - the live training line on a terminal -----*- C++ -*-===//
//
// On a terminal, stderr's last line is a bar redrawn in place (at most ten
// times a second) with the step, each block's loss, images/s and the ETA;
// other lines are printed above it. When stderr is not a terminal (a log
// file, CI) nothing is drawn and the trainer's periodic lines are all there
// is.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_PROGRESSBAR_H
#define LOCUS_RUNTIME_TRAIN_PROGRESSBAR_H

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace locus::rt::train {

class ProgressBar {
public:
  /// Draws only if `enabled` and stderr is a terminal.
  explicit ProgressBar(bool enabled);
  ~ProgressBar();

  /// The state after `step` of `total`; redrawn if 100 ms have passed or it
  /// is the last step.
  void update(int64_t step, int64_t total, const std::vector<double> &losses,
              double imagesPerSecond, double secondsLeft);
  /// Prints `line` above the bar.
  void print(const std::string &line);
  /// Removes the bar (the end of training).
  void finish();

  /// The bar's text for a terminal `width` columns wide (tested alone).
  static std::string render(int64_t step, int64_t total, const std::vector<double> &losses,
                            double imagesPerSecond, double secondsLeft, int width);

private:
  bool active_ = false, drawn_ = false;
  std::string last_;
  std::chrono::steady_clock::time_point lastDraw_{};
};

} // namespace locus::rt::train

#endif
