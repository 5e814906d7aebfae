// locus-gpu-step-bench: times training steps of a --target=cuda model on the GPU.
//
//   locus-gpu-step-bench MODEL.so [--steps S] [--warmup W] [--fp32] [--bf16-moments]
//                        [--cudnn-find] [--workspace-mib M] [--device N] [--label TEXT]
//
// MODEL.so is a model object locusc wrote with --target=cuda, linked as a
// shared library (scripts/gpu-check.sh --pack makes them). The steps run on
// random views with AdamW (the fused B update), the engine's CUDA backend,
// TF32 convolutions and GEMMs unless --fp32, cuDNN's algorithms by its
// heuristics unless --cudnn-find (measured). Prints one JSON line: ms per
// step (wall time of the timed steps, synchronised), images per second, the
// backend's measured peak (every buffer it allocated: parameters, optimizer
// state, the step's arena, cuDNN/cuBLAS and loss scratch), the compiler's
// planned peak, and the device memory in use by the process (cudaMemGetInfo).
#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/abi/Model.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"
#include "locus/runtime/backend/cuda/CudaBackend.h"
#include "locus/runtime/backend/cuda/KernelLaunch.h"
#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/Random.h"
#include "locus/runtime/train/Trainer.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace locus;
using namespace locus::rt;
using namespace locus::rt::train;

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "locus-gpu-step-bench: %s\n", message.c_str());
  std::exit(1);
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fputs("usage: locus-gpu-step-bench MODEL.so [--steps S] [--warmup W] [--precision tf32|fp32|bf16] "
               "[--bf16-moments] [--cudnn-find] [--workspace-mib M] [--device N] [--label TEXT]\n",
               stderr);
    return argc < 2 ? 1 : 0;
  }
  std::string path = argv[1], label = argv[1];
  int steps = 20, warmup = 3, device = 0;
  cuda::Precision precision = cuda::Precision::TF32;
  bool bf16 = false, find = false;
  int64_t workspaceMib = -1;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--steps")
      steps = std::stoi(value());
    else if (arg == "--warmup")
      warmup = std::stoi(value());
    else if (arg == "--device")
      device = std::stoi(value());
    else if (arg == "--label")
      label = value();
    else if (arg == "--precision") {
      const std::string p = value();
      if (p != "tf32" && p != "fp32" && p != "bf16")
        die("--precision " + p + ": expected tf32, fp32 or bf16");
      precision = p == "fp32"   ? cuda::Precision::FP32
                  : p == "bf16" ? cuda::Precision::BF16
                                : cuda::Precision::TF32;
    } else if (arg == "--fp32")
      precision = cuda::Precision::FP32;
    else if (arg == "--bf16-moments")
      bf16 = true;
    else if (arg == "--cudnn-find")
      find = true;
    else if (arg == "--workspace-mib")
      workspaceMib = std::stoll(value());
    else
      die("unknown option " + arg);
  }
  if (steps < 1 || warmup < 0)
    die("--steps must be at least 1 and --warmup at least 0");

  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library)
    die(path + ": " + dlerror());
  auto *record = static_cast<const abi::ModelRecord *>(dlsym(library, abi::kModelSymbol));
  if (!record || !record->program)
    die(path + ": no model record with a step program");
  ModelDesc model;
  std::string error;
  if (!readModel(*record, model, error))
    die(path + ": " + error);

  CompiledModel compiled = compiledModelOf(*record);
  EngineOptions options;
  options.seed = 1;
  options.program = compiled.program;
  options.moments = bf16 ? MomentFormat::BFloat16 : MomentFormat::Float32;
  cuda::CudaOptions cudaOptions;
  cudaOptions.device = device;
  cudaOptions.precision = precision;
  cudaOptions.findAlgorithms = find;
  cudaOptions.workspaceLimit = workspaceMib < 0 ? -1 : workspaceMib << 20;
  options.backend = cuda::makeCudaBackend(compiled.kernels, cudaOptions, error);
  if (!options.backend)
    die(error);
  std::unique_ptr<Engine> engine;
  if (Status s = Engine::create(model, options, engine); !s.isOk())
    die(s.message());

  const Shape4 vs = engine->viewShape();
  std::vector<float> host(static_cast<size_t>(vs.count()));
  Rng rng(7);
  for (float &v : host)
    v = static_cast<float>(rng.uniform(-1.0, 1.0));
  Tensor views = engine->backend().allocate(vs);
  engine->backend().copyToDevice(views.data(), host.data(), 4 * vs.count());
  // The trainer's second views buffer (the next step's upload), which the
  // plan counts: the same views train every step here.
  Tensor aheadViews = engine->backend().allocate(vs);

  std::vector<double> losses;
  for (int s = 0; s < warmup; ++s)
    if (Status st = engine->step(views, losses); !st.isOk())
      die(st.message());
  engine->backend().synchronize();
  cuda::resetProfile(); // the timed steps only
  auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s)
    if (Status st = engine->step(views, losses); !st.isOk())
      die(st.message());
  engine->backend().synchronize();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  size_t freeBytes = 0, totalBytes = 0;
  cudaMemGetInfo(&freeBytes, &totalBytes);
  double loss = 0;
  bool finite = true;
  for (double l : losses) {
    if (!std::isnan(l))
      loss += l;
    finite &= !std::isinf(l);
  }
  const double ms = 1e3 * seconds / steps;
  std::printf("{\"impl\": \"locus\", \"label\": \"%s\", \"precision\": \"%s\", \"moments\": "
              "\"%s\", \"algorithms\": \"%s\", \"batch\": %lld, \"steps\": %d, \"ms_per_step\": %.3f, \"img_per_s\": "
              "%.1f, \"measured_peak_gib\": %.4f, \"planned_peak_gib\": %.4f, "
              "\"device_used_gib\": %.4f, \"final_loss\": %.6f, \"finite\": %s, \"backend\": "
              "\"%s\"}\n",
              label.c_str(), cuda::precisionName(precision), bf16 ? "bf16" : "fp32",
              (std::string(find ? "measured" : "heuristics") +
               (workspaceMib >= 0 ? "<=" + std::to_string(workspaceMib) + "M" : ""))
                  .c_str(),
              static_cast<long long>(vs.n / 2), steps, ms, (vs.n / 2) / (ms / 1e3),
              engine->memory().peak() / double(1 << 30),
              engine->plannedPeakBytes() / double(1 << 30),
              (totalBytes - freeBytes) / double(1 << 30), loss, finite ? "true" : "false",
              engine->backend().describe().c_str());
  if (cuda::profiling())
    std::fprintf(stderr, "profile of %s (LOCUS_CUDA_PROFILE):\n%s", label.c_str(),
                 cuda::profileReport().c_str());
  return 0;
}
