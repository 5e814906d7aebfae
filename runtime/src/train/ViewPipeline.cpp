//===- ViewPipeline.cpp - views rendered ahead of the step ----------------===//
#include "locus/runtime/train/ViewPipeline.h"

namespace locus::rt::train {

ViewPipeline::ViewPipeline(int64_t workers, int64_t rows, int64_t rowFloats, RenderRow render)
    : rows_(rows), rowFloats_(rowFloats), render_(std::move(render)) {
  // The caller's batch plus two being filled: enough to hide a step's
  // rendering behind the previous step when workers keep up.
  slots_.resize(workers > 0 ? 3 : 1);
  for (Slot &slot : slots_)
    slot.data.resize(static_cast<size_t>(rows * rowFloats));
  for (int64_t w = 0; w < workers; ++w)
    threads_.emplace_back([this] { work(); });
}

std::vector<std::pair<float *, int64_t>> ViewPipeline::buffers() {
  std::vector<std::pair<float *, int64_t>> out;
  for (Slot &slot : slots_)
    out.emplace_back(slot.data.data(), static_cast<int64_t>(sizeof(float) * slot.data.size()));
  return out;
}

ViewPipeline::~ViewPipeline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  workReady_.notify_all();
  for (std::thread &t : threads_)
    t.join();
}

void ViewPipeline::start(int64_t first, int64_t end) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Rows of an earlier range still rendering finish into their slots first.
    rowDone_.wait(lock, [&] {
      for (const Slot &slot : slots_)
        if (slot.step >= 0 && slot.done < slot.claimed)
          return false;
      return true;
    });
    for (Slot &slot : slots_)
      slot = Slot{-1, 0, 0, Status::success(), std::move(slot.data)};
    current_ = nextStep_ = first;
    end_ = end;
  }
  workReady_.notify_all();
}

void ViewPipeline::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // The earliest step with unclaimed rows whose slot is free: steps up to
    // current_ + slots - 1 (the caller still reads current_'s slot).
    workReady_.wait(lock, [&] {
      return stopping_ || (nextStep_ < end_ && nextStep_ < current_ + int64_t(slots_.size()));
    });
    if (stopping_)
      return;
    const int64_t step = nextStep_;
    Slot &slot = slotOf(step);
    if (slot.step != step)
      slot = Slot{step, 0, 0, Status::success(), std::move(slot.data)};
    const int64_t row = slot.claimed++;
    if (slot.claimed == rows_)
      ++nextStep_;
    float *out = slot.data.data() + row * rowFloats_;
    lock.unlock();
    Status status = render_(step, row, out);
    lock.lock();
    if (!status.isOk() && slot.error.isOk())
      slot.error = status;
    ++slot.done;
    if (slot.done == rows_)
      rowDone_.notify_all();
  }
}

Status ViewPipeline::next(int64_t step, const float *&batch) {
  if (threads_.empty()) {
    // No workers: render on this thread, now.
    Slot &slot = slots_[0];
    for (int64_t row = 0; row < rows_; ++row)
      LOCUS_RETURN_IF_ERROR(render_(step, row, slot.data.data() + row * rowFloats_));
    batch = slot.data.data();
    return Status::success();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  // Releasing the previous step's slot lets workers start one more step.
  current_ = step;
  workReady_.notify_all();
  Slot &slot = slotOf(step);
  rowDone_.wait(lock, [&] { return slot.step == step && slot.done == rows_; });
  batch = slot.data.data();
  return slot.error;
}

} // namespace locus::rt::train
