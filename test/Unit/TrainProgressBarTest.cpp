// The terminal's live training line (ProgressBar.h): its text at a given width, and that nothing
// is drawn when stderr is not a terminal (as under ctest).
#include "locus/runtime/train/ProgressBar.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <unistd.h>

namespace {

using locus::rt::train::ProgressBar;

TEST(TrainProgressBar, ShowsStepLossesRateAndEta) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::string text = ProgressBar::render(25, 100, {1.23456, nan}, 812.4, 3725, 120);
  EXPECT_EQ(text, "[##########..............................] 25/100 loss 1.235 - 812 img/s ETA "
                  "1:02:05");
  // A narrow terminal: the bar shrinks to 10 cells, then the text is cut to the width.
  text = ProgressBar::render(100, 100, {2.0, 1.0, 0.5}, 10, 0, 40);
  EXPECT_EQ(text.size(), 39u);
  EXPECT_EQ(text.substr(0, 12), "[##########]");
}

TEST(TrainProgressBar, DrawsNothingWithoutATerminal) {
  if (::isatty(2))
    GTEST_SKIP() << "stderr is a terminal here";
  testing::internal::CaptureStderr();
  {
    ProgressBar bar(true);
    bar.update(1, 10, {1.0}, 100, 9);
    bar.print("a line");
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "a line\n");
}

} // namespace
