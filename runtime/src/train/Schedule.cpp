//===- Schedule.cpp - learning-rate schedules ------------------------------===//
#include "locus/runtime/train/Schedule.h"

#include <algorithm>
#include <cmath>

namespace locus::rt::train {

double LrSchedule::at(int64_t step) const {
  if (kind == Kind::Constant)
    return base;
  if (step < warmupSteps)
    return base * double(step + 1) / double(warmupSteps);
  int64_t span = std::max<int64_t>(1, totalSteps - warmupSteps);
  double progress = std::min(1.0, double(step - warmupSteps) / double(span));
  return min + 0.5 * (base - min) * (1.0 + std::cos(M_PI * progress));
}

} // namespace locus::rt::train
