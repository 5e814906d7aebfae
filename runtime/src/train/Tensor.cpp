#include "locus/runtime/train/Tensor.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

namespace locus::rt::train {

void MemoryTracker::update() { peak_ = std::max(peak_, current()); }

void MemoryTracker::allocated(int64_t bytes) {
  tracked_ += bytes;
  update();
}

void MemoryTracker::released(int64_t bytes) { tracked_ -= bytes; }

void MemoryTracker::setExternal(int64_t bytes) {
  external_ = bytes;
  peakExternal_ = std::max(peakExternal_, bytes);
  update();
}

template <typename T>
Array<T> Array<T>::allocate(const std::shared_ptr<MemoryTracker> &tracker, int64_t count) {
  assert(count >= 0);
  Array result;
  result.size_ = count;
  // Round up so aligned_alloc's size is a multiple of the alignment; an
  // empty array still gets a (tiny) buffer so data() is never null.
  int64_t bytes = std::max<int64_t>(64, (count * int64_t(sizeof(T)) + 63) / 64 * 64);
  void *memory = std::aligned_alloc(64, static_cast<size_t>(bytes));
  if (!memory)
    throw std::bad_alloc();
  tracker->allocated(bytes);
  result.data_ = std::shared_ptr<T>(static_cast<T *>(memory), [tracker, bytes](T *p) {
    std::free(p);
    tracker->released(bytes);
  });
  return result;
}

template <typename T>
Array<T> Array<T>::zeros(const std::shared_ptr<MemoryTracker> &tracker, int64_t count) {
  Array result = allocate(tracker, count);
  std::memset(result.data(), 0, static_cast<size_t>(count) * sizeof(T));
  return result;
}

template class Array<float>;
template class Array<int32_t>;

Tensor Tensor::allocate(const std::shared_ptr<MemoryTracker> &tracker, Shape4 shape) {
  Tensor t;
  t.array_ = Array<float>::allocate(tracker, shape.count());
  t.shape_ = shape;
  return t;
}

Tensor Tensor::zeros(const std::shared_ptr<MemoryTracker> &tracker, Shape4 shape) {
  Tensor t;
  t.array_ = Array<float>::zeros(tracker, shape.count());
  t.shape_ = shape;
  return t;
}

Tensor Tensor::reshaped(Shape4 shape) const {
  assert(shape.count() == shape_.count());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

} // namespace locus::rt::train
