// A quick end-to-end check of the CUDA back end on a real device.
//
// It exercises each piece the back end depends on (our own kernels, cuBLAS, cuDNN) on small
// random problems and compares the results with a float64 CPU reference, so a broken toolchain,
// driver or library version shows up as one precise message instead of wrong training results.
#ifndef LOCUS_RUNTIME_SELFTEST_H
#define LOCUS_RUNTIME_SELFTEST_H

#include "locus/runtime/Error.h"

namespace locus::rt {

/// Runs the fill kernel, a 64x64 cuBLAS SGEMM and a small cuDNN NCHW convolution on device
/// `device` and checks each against a CPU reference. Returns an error naming the failing step
/// (and, on a mismatch, the first wrong element) when anything fails, including when the build
/// has no CUDA back end or there is no such device.
Status cudaSelfTest(int device = 0);

} // namespace locus::rt

#endif // LOCUS_RUNTIME_SELFTEST_H
