//===- ProgressBar.cpp - the live training line on a terminal -------------===//
#include "locus/runtime/train/ProgressBar.h"

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace locus::rt::train {

namespace {
int terminalWidth() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20)
    return size.ws_col;
  return 100;
}

std::string clock(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
}
} // namespace

ProgressBar::ProgressBar(bool enabled) : active_(enabled && ::isatty(STDERR_FILENO)) {}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::render(int64_t step, int64_t total, const std::vector<double> &losses,
                                double imagesPerSecond, double secondsLeft, int width) {
  std::string loss;
  for (double l : losses)
    loss += std::isfinite(l) ? fmt::format(" {:.3f}", l) : std::string(" -");
  const std::string right = fmt::format(" {}/{} loss{} {:.0f} img/s ETA {}", step, total, loss,
                                        imagesPerSecond, clock(secondsLeft));
  // The bar takes what the text leaves, between 10 and 40 cells.
  const int cells = std::max(10, std::min(40, width - 3 - int(right.size())));
  const double done = total > 0 ? double(step) / double(total) : 1.0;
  const int full = static_cast<int>(std::lround(done * cells));
  std::string text = "[" + std::string(full, '#') + std::string(cells - full, '.') + "]" + right;
  if (int(text.size()) > width - 1)
    text.resize(width - 1);
  return text;
}

void ProgressBar::update(int64_t step, int64_t total, const std::vector<double> &losses,
                         double imagesPerSecond, double secondsLeft) {
  if (!active_)
    return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && step < total && now - lastDraw_ < std::chrono::milliseconds(100))
    return;
  lastDraw_ = now;
  last_ = render(step, total, losses, imagesPerSecond, secondsLeft, terminalWidth());
  fmt::print(stderr, "\r\033[K{}", last_);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::print(const std::string &line) {
  if (drawn_)
    fmt::print(stderr, "\r\033[K{}\n{}", line, last_);
  else
    fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (drawn_)
    fmt::print(stderr, "\r\033[K");
  drawn_ = false;
  active_ = false;
}

} // namespace locus::rt::train
