#include "locus/runtime/Device.h"

#include <fmt/format.h>

#if defined(LOCUS_HAVE_CUDA)
#include "locus/runtime/CudaError.h"
#include <library_types.h>
#endif

#ifndef LOCUS_CUDA_DISABLED_REASON
#define LOCUS_CUDA_DISABLED_REASON "the CUDA back end was not configured"
#endif

namespace locus::rt {

namespace {

std::string cudaVersionText(int version) {
  if (version <= 0)
    return "none";
  return fmt::format("{}.{}", version / 1000, version % 1000 / 10);
}

/// cuDNN 9 and cuBLAS both encode versions as 10000 * major + 100 * minor + patch.
std::string libraryVersionText(size_t version) {
  if (version == 0)
    return "unknown";
  return fmt::format("{}.{}.{}", version / 10000, version % 10000 / 100, version % 100);
}

#if defined(LOCUS_HAVE_CUDA)

int queryCublasVersion() {
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS)
    return 0;
  return major * 10000 + minor * 100 + patch;
}

Status listDevices(std::vector<DeviceInfo> &devices) {
  int count = 0;
  // Without a driver this fails (cudaErrorInsufficientDriver); the message becomes the reason.
  LOCUS_CUDA_CHECK(cudaGetDeviceCount(&count));
  for (int index = 0; index < count; ++index) {
    cudaDeviceProp props{};
    LOCUS_CUDA_CHECK(cudaGetDeviceProperties(&props, index));
    devices.push_back(DeviceInfo{index, props.name, props.major, props.minor,
                                 props.totalGlobalMem, props.multiProcessorCount});
  }
  return Status::success();
}

#endif // LOCUS_HAVE_CUDA

} // namespace

BackendInfo queryBackends() {
  BackendInfo info;
#if defined(LOCUS_HAVE_CUDA)
  info.compiledWithCuda = true;
  // These only read versions; they succeed without a driver or GPU.
  (void)cudaRuntimeGetVersion(&info.cudaRuntimeVersion);
  (void)cudaDriverGetVersion(&info.driverVersion);
  info.cudnnVersion = cudnnGetVersion();
  info.cublasVersion = queryCublasVersion();

  Status listed = listDevices(info.devices);
  if (!listed.isOk()) {
    info.devices.clear();
    info.unavailableReason = listed.message();
  } else if (info.devices.empty()) {
    info.unavailableReason = "the CUDA runtime reports no CUDA device";
  }
#else
  info.unavailableReason = fmt::format("locus was built without the CUDA back end ({})",
                                       LOCUS_CUDA_DISABLED_REASON);
#endif
  return info;
}

std::string describe(const BackendInfo &info) {
  std::string text = "locus back ends:\n  cpu:  available\n";
  if (!info.compiledWithCuda) {
    text += fmt::format("  cuda: not built: {}\n", info.unavailableReason);
    return text;
  }

  std::string versions = fmt::format(
      "CUDA runtime {}, driver {}, cuDNN {}, cuBLAS {}", cudaVersionText(info.cudaRuntimeVersion),
      cudaVersionText(info.driverVersion), libraryVersionText(info.cudnnVersion),
      libraryVersionText(static_cast<size_t>(info.cublasVersion)));
  if (info.devices.empty()) {
    text += fmt::format("  cuda: unavailable ({})\n        reason: {}\n", versions,
                        info.unavailableReason);
    return text;
  }

  text += fmt::format("  cuda: available, {} device{} ({})\n", info.devices.size(),
                      info.devices.size() == 1 ? "" : "s", versions);
  for (const DeviceInfo &device : info.devices)
    text += fmt::format("    [{}] {}: compute capability {}.{}, {} SMs, {:.1f} GiB\n", device.index,
                        device.name, device.ccMajor, device.ccMinor, device.smCount,
                        static_cast<double>(device.totalMemory) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

} // namespace locus::rt
