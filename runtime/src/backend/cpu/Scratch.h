//===- Scratch.h - per-thread scratch buffers of the CPU kernels -*- C++ -*-===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_SCRATCH_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_SCRATCH_H

#include <cstdint>
#include <vector>

namespace locus::rt::cpu {

/// At least `floats` floats of buf (a thread_local reused across calls):
/// grows, never shrinks. Not charged to the memory tracker.
inline float *scratch(std::vector<float> &buf, int64_t floats) {
  if (static_cast<int64_t>(buf.size()) < floats)
    buf.resize(static_cast<size_t>(floats));
  return buf.data();
}

} // namespace locus::rt::cpu

#endif
