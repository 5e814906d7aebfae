//===- KernelLaunch.h - launching the kernels locusc lowered for CUDA -*- C++ -*-===//
//
// A --target=cuda object holds each generated kernel's PTX (one gpu.binary
// per launch) and host code that loads it and launches it through MLIR's
// `mgpu*` calls. The runtime implements those calls here, on the CUDA
// driver API, which it opens at run time (libcuda.so.1): a binary that
// never launches a kernel runs on a machine without a driver, and one that
// does stops with a message naming the kernel and the call that failed.
//
// The objects' global constructors "load" every module at start-up; that
// only records the PTX, which is compiled for the current device on the
// module's first launch. Every launch goes to the stream set here (the
// backend's), asynchronously: errors a kernel raises while it runs surface
// at the backend's next synchronisation.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CUDA_KERNELLAUNCH_H
#define LOCUS_RUNTIME_BACKEND_CUDA_KERNELLAUNCH_H

#include <cstdint>
#include <string>

namespace locus::rt::cuda {

/// The stream generated kernels launch on (a cudaStream_t; null: the
/// legacy default stream).
void setLaunchStream(void *stream);
void *launchStream();

/// Counts since start-up, for tests and the log.
struct LaunchStats {
  int64_t modulesLoaded = 0; ///< PTX modules compiled by the driver
  int64_t launches = 0;
};
LaunchStats launchStats();

/// Whether the CUDA driver library can be opened, and why not.
bool driverAvailable(std::string *why = nullptr);

/// Where the step is (Backend::setPlace): every CUDA error the backend or a
/// launch reports ends with it, " in block B" or " in block B, layer of
/// parameter P" ("" before the first block). An error of asynchronous work
/// shows at a later call that waits for it, and names that call's place.
void setStepPlace(const char *block, const char *layer);
std::string stepPlace();

/// With LOCUS_CUDA_PROFILE=1 in the environment, every generated kernel's
/// launches and every ProfileScope are timed with CUDA events (each waited
/// for: the step runs slower, but each part's time is its own); otherwise
/// nothing is measured.
bool profiling();
/// Times the device work issued while it lives, under `name`.
class ProfileScope {
public:
  explicit ProfileScope(const char *name);
  ~ProfileScope();
  ProfileScope(const ProfileScope &) = delete;
  ProfileScope &operator=(const ProfileScope &) = delete;

private:
  const char *name_;
  void *start_ = nullptr, *stop_ = nullptr;
};
/// The profile so far, largest total first: name, calls, total and mean ms.
std::string profileReport();
/// Forgets the profile so far (after warm-up steps).
void resetProfile();

} // namespace locus::rt::cuda

#endif
