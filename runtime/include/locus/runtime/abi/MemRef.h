//===- MemRef.h - MLIR memref descriptors as the kernels take them -*- C++ -*-===//
//
// Every generated kernel has llvm.emit_c_interface: it takes pointers to
// these descriptors (identity layouts, dense row-major buffers, offset 0).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_MEMREF_H
#define LOCUS_RUNTIME_ABI_MEMREF_H

#include <cstdint>

namespace locus::abi {

/// MLIR's descriptor of a memref<?xf32> (identity layout, offset 0).
struct MemRef1F32 {
  float *allocated, *aligned;
  int64_t offset, size, stride;
};
/// MLIR's descriptor of a memref<?x?xf32>.
struct MemRef2F32 {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};
/// MLIR's descriptor of a memref<?x?x?xf32>.
struct MemRef3F32 {
  float *allocated, *aligned;
  int64_t offset, sizes[3], strides[3];
};
/// MLIR's descriptor of a memref<?xi32>.
struct MemRef1I32 {
  int32_t *allocated, *aligned;
  int64_t offset, size, stride;
};
/// MLIR's descriptor of a memref<?xf64>.
/// bfloat16 as its bits.
struct MemRef1U16 {
  uint16_t *allocated, *aligned;
  int64_t offset, size, stride;
};
struct MemRef1F64 {
  double *allocated, *aligned;
  int64_t offset, size, stride;
};
/// MLIR's descriptor of a memref<f64>.
struct MemRef2F64 {
  double *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};
struct MemRef0F64 {
  double *allocated, *aligned;
  int64_t offset;
};

inline MemRef1F32 memref1(float *data, int64_t size) {
  return MemRef1F32{data, data, 0, size, 1};
}
inline MemRef2F32 memref2(float *data, int64_t rows, int64_t cols) {
  return MemRef2F32{data, data, 0, {rows, cols}, {cols, 1}};
}
inline MemRef3F32 memref3(float *data, int64_t n, int64_t c, int64_t hw) {
  return MemRef3F32{data, data, 0, {n, c, hw}, {c * hw, hw, 1}};
}
inline MemRef1I32 memref1(int32_t *data, int64_t size) {
  return MemRef1I32{data, data, 0, size, 1};
}
inline MemRef1U16 memref1(uint16_t *data, int64_t size) {
  return MemRef1U16{data, data, 0, size, 1};
}
inline MemRef2F64 memref2(double *data, int64_t rows, int64_t cols) {
  return MemRef2F64{data, data, 0, {rows, cols}, {cols, 1}};
}
inline MemRef1F64 memref1(double *data, int64_t size) {
  return MemRef1F64{data, data, 0, size, 1};
}

} // namespace locus::abi

#endif
