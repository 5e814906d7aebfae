//===- Schedule.h - learning-rate schedules --------------------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_TRAIN_SCHEDULE_H
#define LOCUS_RUNTIME_TRAIN_SCHEDULE_H

#include <cstdint>

namespace locus::rt::train {

/// Constant, or linear warm-up from 0 to `base` over `warmupSteps` steps and
/// then a cosine decay to `min` at `totalSteps` (METHOD.md §5's ImageNet
/// schedule: 5 warm-up epochs, cosine down to 1e-5). Steps count from 0.
struct LrSchedule {
  enum class Kind { Constant, Cosine };
  Kind kind = Kind::Constant;
  double base = 2e-4, min = 0.0;
  int64_t warmupSteps = 0, totalSteps = 0;
  double at(int64_t step) const;
};

} // namespace locus::rt::train

#endif
