//===- ViewPipeline.h - views rendered ahead of the step --------*- C++ -*-===//
//
// `--workers N` threads decode and augment the views of the next steps while
// the current one trains, so data does not starve a GPU step. Work is split
// by view row, and every row's draws come from its own seed (Augment.h), so
// the views do not depend on N. With N = 0 the caller's thread renders each
// batch when it is asked for. Each batch buffer is [rows, rowFloats] float32;
// `depth` of them are in flight at most.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_VIEWPIPELINE_H
#define LOCUS_RUNTIME_TRAIN_VIEWPIPELINE_H

#include "locus/runtime/Error.h"

#include <condition_variable>
#include <cstdlib>
#include <new>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace locus::rt::train {

/// Storage that starts on a page and fills whole pages: a buffer can be
/// pinned (cudaHostRegister) without sharing a page with another one.
template <typename T> struct PageAllocator {
  using value_type = T;
  static constexpr size_t kPage = 4096;
  PageAllocator() = default;
  template <typename U> PageAllocator(const PageAllocator<U> &) {}
  T *allocate(size_t n) {
    const size_t bytes = (n * sizeof(T) + kPage - 1) / kPage * kPage;
    void *p = std::aligned_alloc(kPage, bytes ? bytes : kPage);
    if (!p)
      throw std::bad_alloc();
    return static_cast<T *>(p);
  }
  void deallocate(T *p, size_t) { std::free(p); }
  template <typename U> bool operator==(const PageAllocator<U> &) const { return true; }
  template <typename U> bool operator!=(const PageAllocator<U> &) const { return false; }
};

class ViewPipeline {
public:
  /// Renders row `row` of step `step` into `out` (rowFloats values); called
  /// from worker threads, several at once.
  using RenderRow = std::function<Status(int64_t step, int64_t row, float *out)>;

  ViewPipeline(int64_t workers, int64_t rows, int64_t rowFloats, RenderRow render);
  ~ViewPipeline();
  ViewPipeline(const ViewPipeline &) = delete;
  ViewPipeline &operator=(const ViewPipeline &) = delete;

  /// Steps [first, end) will be asked for in order; rendering starts now.
  void start(int64_t first, int64_t end);
  /// The views of `step` (the next one in order): valid until the next call.
  /// A row's error (an unreadable image) is returned here.
  Status next(int64_t step, const float *&batch);

  int64_t workers() const { return static_cast<int64_t>(threads_.size()); }
  /// Every buffer next() can hand out (to pin them for uploads), in bytes.
  std::vector<std::pair<float *, int64_t>> buffers();

private:
  struct Slot {
    int64_t step = -1;   ///< the step this buffer holds or is being filled for
    int64_t claimed = 0; ///< rows handed to workers
    int64_t done = 0;    ///< rows finished
    Status error;
    std::vector<float, PageAllocator<float>> data;
  };
  void work();
  Slot &slotOf(int64_t step) { return slots_[static_cast<size_t>(step % int64_t(slots_.size()))]; }

  const int64_t rows_, rowFloats_;
  RenderRow render_;
  std::vector<Slot> slots_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable workReady_, rowDone_;
  int64_t end_ = 0;      ///< one past the last step to render
  int64_t current_ = 0;  ///< the step the caller holds (or waits for)
  int64_t nextStep_ = 0; ///< the first step with rows not yet claimed
  bool stopping_ = false;
};

} // namespace locus::rt::train

#endif
