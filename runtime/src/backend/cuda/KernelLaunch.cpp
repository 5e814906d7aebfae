//===- KernelLaunch.cpp - the mgpu* calls of --target=cuda objects --------===//
//
// MLIR lowers a gpu.launch_func to mgpuModuleLoadJIT (in a global
// constructor), then, at every launch, mgpuStreamCreate,
// mgpuModuleGetFunction, mgpuLaunchKernel, mgpuStreamSynchronize and
// mgpuStreamDestroy. Here loading is deferred to the first launch (no CUDA
// call at start-up), the stream is the backend's (not one per launch) and
// synchronising is the backend's too (see KernelLaunch.h).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cuda/KernelLaunch.h"

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <vector>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

namespace locus::rt::cuda {
namespace {

/// The driver entry points the launches use, from libcuda.so.1.
struct Driver {
  std::string unavailable; ///< why the library or a symbol is missing
  CUresult (*moduleLoadDataEx)(CUmodule *, const void *, unsigned, CUjit_option *,
                               void **) = nullptr;
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule, const char *) = nullptr;
  CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, CUstream, void **, void **) = nullptr;
  CUresult (*moduleUnload)(CUmodule) = nullptr;
  CUresult (*getErrorString)(CUresult, const char **) = nullptr;
};

template <typename Fn> bool bind(void *library, const char *name, Fn &fn, std::string &why) {
  fn = reinterpret_cast<Fn>(dlsym(library, name));
  if (!fn)
    why = std::string("libcuda.so.1 has no ") + name;
  return fn != nullptr;
}

const Driver &driver() {
  static const Driver loaded = [] {
    Driver d;
    void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *error = dlerror();
      d.unavailable = std::string("cannot open the CUDA driver (libcuda.so.1): ") +
                      (error ? error : "unknown error");
      return d;
    }
    bind(library, "cuModuleLoadDataEx", d.moduleLoadDataEx, d.unavailable) &&
        bind(library, "cuModuleGetFunction", d.moduleGetFunction, d.unavailable) &&
        bind(library, "cuLaunchKernel", d.launchKernel, d.unavailable) &&
        bind(library, "cuModuleUnload", d.moduleUnload, d.unavailable) &&
        bind(library, "cuGetErrorString", d.getErrorString, d.unavailable);
    return d;
  }();
  return loaded;
}

std::string describe(CUresult result) {
  const char *text = nullptr;
  if (driver().getErrorString && driver().getErrorString(result, &text) == CUDA_SUCCESS && text)
    return text;
  return "CUDA driver error " + std::to_string(static_cast<int>(result));
}

/// The step's place (setStepPlace); the step calls run on one thread.
const char *placeBlock = nullptr, *placeLayer = nullptr;

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "locus: %s%s\n", message.c_str(), stepPlace().c_str());
  std::fflush(stderr);
  std::exit(1);
}

const Driver &requireDriver(const char *kernel) {
  const Driver &d = driver();
  if (!d.unavailable.empty())
    fail(std::string("cannot launch the generated kernel ") + kernel + ": " + d.unavailable);
  return d;
}

/// A module as the global constructor registers it: its PTX, compiled on
/// first use, and the functions looked up in it.
struct LazyModule {
  const char *ptx;
  std::mutex mutex;
  CUmodule module = nullptr;
  std::unordered_map<std::string, CUfunction> functions;
};

std::mutex namesMutex;
std::unordered_map<CUfunction, std::string> &functionNames() {
  static std::unordered_map<CUfunction, std::string> names;
  return names;
}

std::atomic<void *> stream{nullptr};

struct ProfileEntry {
  int64_t calls = 0;
  double ms = 0.0;
};
std::mutex profileMutex;
std::map<std::string, ProfileEntry> &profileTable() {
  static std::map<std::string, ProfileEntry> table;
  return table;
}
void record(const std::string &name, cudaEvent_t start, cudaEvent_t stop) {
  float ms = 0.0f;
  cudaEventSynchronize(stop);
  cudaEventElapsedTime(&ms, start, stop);
  std::lock_guard<std::mutex> lock(profileMutex);
  ProfileEntry &e = profileTable()[name];
  ++e.calls;
  e.ms += ms;
}
std::atomic<int64_t> modulesLoaded{0}, launches{0};

CUmodule compile(LazyModule &lazy, const char *kernel) {
  const Driver &d = requireDriver(kernel);
  // The kernels run in the runtime's (primary) context of the current device.
  if (cudaError_t error = cudaFree(nullptr); error != cudaSuccess)
    fail(std::string("cannot set up CUDA for the generated kernel ") + kernel + ": " +
         cudaGetErrorString(error) + " (cudaFree(0))");
  char log[8192] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, reinterpret_cast<void *>(static_cast<uintptr_t>(sizeof(log)))};
  CUresult result = d.moduleLoadDataEx(&lazy.module, lazy.ptx, 2, options, values);
  if (result != CUDA_SUCCESS)
    fail(std::string("the driver cannot load the PTX of kernel ") + kernel + ": " +
         describe(result) + " (cuModuleLoadDataEx)" + (log[0] ? std::string("\n") + log : ""));
  ++modulesLoaded;
  return lazy.module;
}

} // namespace

void setLaunchStream(void *s) { stream = s; }
void *launchStream() { return stream; }

LaunchStats launchStats() { return {modulesLoaded.load(), launches.load()}; }

bool profiling() {
  static const bool enabled = [] {
    const char *value = std::getenv("LOCUS_CUDA_PROFILE");
    return value && *value && std::string(value) != "0";
  }();
  return enabled;
}

ProfileScope::ProfileScope(const char *name) : name_(name) {
  if (!profiling())
    return;
  cudaEventCreate(reinterpret_cast<cudaEvent_t *>(&start_));
  cudaEventCreate(reinterpret_cast<cudaEvent_t *>(&stop_));
  cudaEventRecord(static_cast<cudaEvent_t>(start_), static_cast<cudaStream_t>(launchStream()));
}

ProfileScope::~ProfileScope() {
  if (!start_)
    return;
  auto start = static_cast<cudaEvent_t>(start_), stop = static_cast<cudaEvent_t>(stop_);
  cudaEventRecord(stop, static_cast<cudaStream_t>(launchStream()));
  record(name_, start, stop);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void resetProfile() {
  std::lock_guard<std::mutex> lock(profileMutex);
  profileTable().clear();
}

std::string profileReport() {
  std::vector<std::pair<std::string, ProfileEntry>> rows;
  {
    std::lock_guard<std::mutex> lock(profileMutex);
    rows.assign(profileTable().begin(), profileTable().end());
  }
  std::sort(rows.begin(), rows.end(),
            [](const auto &a, const auto &b) { return a.second.ms > b.second.ms; });
  std::string out;
  char line[256];
  for (const auto &[name, e] : rows) {
    std::snprintf(line, sizeof(line), "%10.3f ms %8lld calls %9.4f ms/call  %s\n", e.ms,
                  static_cast<long long>(e.calls), e.ms / std::max<int64_t>(e.calls, 1),
                  name.c_str());
    out += line;
  }
  return out;
}

void setStepPlace(const char *block, const char *layer) {
  placeBlock = block;
  placeLayer = layer;
}

std::string stepPlace() {
  if (!placeBlock)
    return "";
  std::string place = std::string(" in block ") + placeBlock;
  if (placeLayer)
    place += std::string(", layer of parameter ") + placeLayer;
  return place;
}

bool driverAvailable(std::string *why) {
  const Driver &d = driver();
  if (why)
    *why = d.unavailable;
  return d.unavailable.empty();
}

} // namespace locus::rt::cuda

using namespace locus::rt::cuda;

extern "C" {

void *mgpuModuleLoadJIT(void *data, int /*optLevel*/) {
  auto *lazy = new LazyModule;
  lazy->ptx = static_cast<const char *>(data);
  return lazy;
}

void *mgpuModuleLoad(void *data, size_t /*size*/) { return mgpuModuleLoadJIT(data, 2); }

void mgpuModuleUnload(void *module) {
  // At exit the driver may already be shut down: the module is left to it.
  delete static_cast<LazyModule *>(module);
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  auto *lazy = static_cast<LazyModule *>(module);
  std::lock_guard<std::mutex> lock(lazy->mutex);
  auto found = lazy->functions.find(name);
  if (found != lazy->functions.end())
    return found->second;
  CUmodule loaded = lazy->module ? lazy->module : compile(*lazy, name);
  CUfunction function = nullptr;
  CUresult result = driver().moduleGetFunction(&function, loaded, name);
  if (result != CUDA_SUCCESS)
    fail(std::string("the generated kernel ") + name + " is not in its module: " +
         describe(result) + " (cuModuleGetFunction)");
  lazy->functions.emplace(name, function);
  std::lock_guard<std::mutex> namesLock(namesMutex);
  functionNames()[function] = name;
  return function;
}

void *mgpuStreamCreate() { return launchStream(); }
void mgpuStreamDestroy(void *) {}
void mgpuStreamSynchronize(void *) {}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                      intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t smem,
                      void *launchOn, void **params, void **extra, size_t /*paramsCount*/) {
  // An empty iteration space (a batch of zero rows) is no work, but a
  // launch error for the driver.
  if (gridX <= 0 || gridY <= 0 || gridZ <= 0 || blockX <= 0 || blockY <= 0 || blockZ <= 0)
    return;
  auto f = static_cast<CUfunction>(function);
  const Driver &d = driver(); // loaded: the function came from it
  cudaEvent_t start = nullptr, stop = nullptr;
  if (profiling()) {
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    cudaEventRecord(start, static_cast<cudaStream_t>(launchOn));
  }
  CUresult result = d.launchKernel(
      f, static_cast<unsigned>(gridX), static_cast<unsigned>(gridY), static_cast<unsigned>(gridZ),
      static_cast<unsigned>(blockX), static_cast<unsigned>(blockY),
      static_cast<unsigned>(blockZ), static_cast<unsigned>(smem),
      static_cast<CUstream>(launchOn), params, extra);
  if (result != CUDA_SUCCESS) {
    std::string name = "?";
    {
      std::lock_guard<std::mutex> lock(namesMutex);
      auto found = functionNames().find(f);
      if (found != functionNames().end())
        name = found->second;
    }
    fail("cannot launch the generated kernel " + name + " on a grid of " +
         std::to_string(gridX) + "x" + std::to_string(gridY) + "x" + std::to_string(gridZ) +
         " blocks of " + std::to_string(blockX) + "x" + std::to_string(blockY) + "x" +
         std::to_string(blockZ) + " threads: " + describe(result) + " (cuLaunchKernel)");
  }
  ++launches;
  if (start) {
    cudaEventRecord(stop, static_cast<cudaStream_t>(launchOn));
    std::string name = "?";
    {
      std::lock_guard<std::mutex> lock(namesMutex);
      auto found = functionNames().find(f);
      if (found != functionNames().end())
        name = found->second;
    }
    record("kernel " + name, start, stop);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
}

} // extern "C"
