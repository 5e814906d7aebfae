// What compute back ends this process can use.
//
// queryBackends() is safe to call anywhere, including on machines without a GPU or a CUDA
// driver and in builds without the CUDA back end: it reports what is missing instead of failing.
#ifndef LOCUS_RUNTIME_DEVICE_H
#define LOCUS_RUNTIME_DEVICE_H

#include <cstddef>
#include <string>
#include <vector>

namespace locus::rt {

/// One CUDA device as the CUDA runtime sees it.
struct DeviceInfo {
  int index = 0;
  std::string name;
  int ccMajor = 0; ///< compute capability
  int ccMinor = 0;
  size_t totalMemory = 0; ///< bytes
  int smCount = 0;
};

/// The CUDA back end's state. Version numbers are the libraries' own encodings, queried at run
/// time (the libraries loaded can be older than the headers we compiled against); 0 means
/// unknown or not present. See describe() for how they decode.
struct BackendInfo {
  bool compiledWithCuda = false;
  int cudaRuntimeVersion = 0; ///< 1000 * major + 10 * minor, e.g. 13000
  int driverVersion = 0;      ///< same encoding; 0 when no driver is installed
  size_t cudnnVersion = 0;    ///< 10000 * major + 100 * minor + patch, e.g. 91400
  int cublasVersion = 0;      ///< 10000 * major + 100 * minor + patch, e.g. 130100
  std::vector<DeviceInfo> devices;
  /// Why `devices` is empty; empty exactly when at least one device is usable.
  std::string unavailableReason;
};

/// Queries the CUDA runtime, driver, cuDNN, cuBLAS and the devices. Never fails.
BackendInfo queryBackends();

/// A short multi-line, human-readable report of `info`.
std::string describe(const BackendInfo &info);

} // namespace locus::rt

#endif // LOCUS_RUNTIME_DEVICE_H
