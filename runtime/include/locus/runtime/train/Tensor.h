//===- Tensor.h - tracked float tensors of the training engine -*- C++ -*-===//
//
// Every buffer the engine allocates (parameters, gradients, optimizer state,
// activations) goes through a MemoryTracker, so the binary can print the peak
// it measured beside the peak the compiler planned. A backend's own scratch
// (the CPU convolutions' workspace) is reported to it as "external" bytes.
//
// Storage is reference counted: a block's forward pass can keep a handle on a
// tensor for its backward pass while passing the same tensor on, and memory
// goes back the moment the last handle drops. Nothing is copied implicitly.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_TENSOR_H
#define LOCUS_RUNTIME_TRAIN_TENSOR_H

#include "locus/runtime/backend/Types.h"

#include <cstdint>
#include <functional>
#include <memory>

namespace locus::rt::train {

/// Current and peak bytes of live tracked buffers plus the external bytes.
class MemoryTracker {
public:
  void allocated(int64_t bytes);
  void released(int64_t bytes);
  /// Bytes held outside tracked buffers (the kernels' im2col workspace).
  void setExternal(int64_t bytes);
  int64_t current() const { return tracked_ + external_; }
  int64_t peak() const { return peak_; }
  /// Bytes of live tracked buffers, without the external bytes.
  int64_t tracked() const { return tracked_; }
  int64_t peakExternal() const { return peakExternal_; }
  /// Starts a new measurement: the peaks become the current usage.
  void resetPeak() {
    peak_ = current();
    peakExternal_ = external_;
  }

private:
  void update();
  int64_t tracked_ = 0, external_ = 0, peak_ = 0, peakExternal_ = 0;
};

/// A tracked, 64-byte aligned array of T; copies share the storage.
template <typename T> class Array {
public:
  Array() = default;
  /// Uninitialised storage for `count` elements.
  static Array allocate(const std::shared_ptr<MemoryTracker> &tracker, int64_t count);
  static Array zeros(const std::shared_ptr<MemoryTracker> &tracker, int64_t count);

  /// Memory a backend allocated (a device buffer): `release` frees it when
  /// the last handle goes (and tells the backend's tracker).
  static Array adopt(T *data, int64_t count, std::function<void(T *)> release) {
    Array a;
    a.data_ = std::shared_ptr<T>(data, std::move(release));
    a.size_ = count;
    return a;
  }
  /// A handle on memory no tracker owns (a buffer in the step program's
  /// arena), valid while that memory is.
  static Array borrowed(T *data, int64_t count) {
    Array a;
    a.data_ = std::shared_ptr<T>(data, [](T *) {});
    a.size_ = count;
    return a;
  }
  T *data() const { return data_.get(); }
  int64_t size() const { return size_; }
  bool defined() const { return static_cast<bool>(data_); }
  /// True when no other handle shares the storage (in-place updates are safe).
  bool unique() const { return data_.use_count() == 1; }
  void reset() {
    data_.reset();
    size_ = 0;
  }

private:
  std::shared_ptr<T> data_;
  int64_t size_ = 0;
};

extern template class Array<float>;
extern template class Array<int32_t>;

/// A float32 NCHW tensor (matrices and vectors use trailing 1s).
class Tensor {
public:
  Tensor() = default;
  static Tensor allocate(const std::shared_ptr<MemoryTracker> &tracker, Shape4 shape);
  static Tensor zeros(const std::shared_ptr<MemoryTracker> &tracker, Shape4 shape);
  /// A backend's buffer (Array::adopt).
  static Tensor adopt(float *data, Shape4 shape, std::function<void(float *)> release) {
    Tensor t;
    t.array_ = Array<float>::adopt(data, shape.count(), std::move(release));
    t.shape_ = shape;
    return t;
  }
  /// A view of memory no tracker owns (Array::borrowed).
  static Tensor borrowed(float *data, Shape4 shape) {
    Tensor t;
    t.array_ = Array<float>::borrowed(data, shape.count());
    t.shape_ = shape;
    return t;
  }

  float *data() const { return array_.data(); }
  const Shape4 &shape() const { return shape_; }
  int64_t count() const { return shape_.count(); }
  bool defined() const { return array_.defined(); }
  bool unique() const { return array_.unique(); }
  void reset() {
    array_.reset();
    shape_ = Shape4{};
  }
  /// The same storage seen with another shape of the same element count.
  Tensor reshaped(Shape4 shape) const;

private:
  Array<float> array_;
  Shape4 shape_;
};

using IndexArray = Array<int32_t>;

} // namespace locus::rt::train

#endif
