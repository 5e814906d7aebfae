//===- CpuKernelBench.cpp - timing of the CPU kernels (not a test) --------===//
//
// GFLOP/s of conv2dForward / conv2dBackwardWeight / conv2dBackwardData at the
// VGG-6 shapes (CIFAR-10, batch 16 images = 32 rows), and the time of the
// bilinear-rule kernels at D = 8192 (the loss kernel is locusc's: link an
// object compiled with --all-loss-kernels). Not part of the build; from build/:
//
//   bin/locusc ../examples/fmnist.onnxtxt --all-loss-kernels -o model.o
//   c++ -O3 -DNDEBUG -std=c++17 -I../runtime/include \
//       ../runtime/src/backend/cpu/tools/CpuKernelBench.cpp model.o runtime/liblocus_runtime.a \
//       runtime/liblocus_descriptor.a \
//       $(grep -o '/[^ ]*libopenblas[^ ]*' CMakeCache.txt | head -1) -lpthread -o cpu-kernel-bench
//   ./cpu-kernel-bench --threads 1 && ./cpu-kernel-bench --threads 2
//
// --threads sets both OpenBLAS's threads and the runtime's own
// (LOCUS_CPU_THREADS). Each number is the best of --repeats runs after one
// warm-up run: on a shared machine the best run is the one least disturbed.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/CompiledKernels.h"
#include "locus/runtime/backend/cpu/Kernels.h"
#include "locus/runtime/backend/cpu/LocalLoss.h"
#include "locus/runtime/backend/cpu/Optimizer.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace locus::rt::cpu;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <typename F> double best(int repeats, F &&f) {
  f();
  double b = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now();
    f();
    b = std::min(b, now() - t0);
  }
  return b;
}

std::vector<float> random(int64_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float &x : v)
    x = u(rng);
  return v;
}

} // namespace

int main(int argc, char **argv) {
  int threads = 2, repeats = 5;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc)
      repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
  }
  // Before any kernel runs: the runtime reads LOCUS_CPU_THREADS once.
  setenv("LOCUS_CPU_THREADS", std::to_string(threads).c_str(), 1);
  openblas_set_num_threads(threads);
  std::printf("threads %d (OpenBLAS %s)\n", threads, openblas_get_config());

  struct Layer {
    const char *name;
    int64_t n, c, side, o;
  };
  const Layer layers[] = {{"block1", 32, 3, 32, 128},    {"block2", 32, 128, 32, 256},
                          {"block3", 32, 256, 16, 256},  {"block4", 32, 256, 16, 512},
                          {"block5", 32, 512, 8, 1024},  {"block6", 32, 1024, 4, 1024}};
  Window conv;
  conv.kh = conv.kw = 3;
  conv.pt = conv.pl = conv.pb = conv.pr = 1;
  for (const Layer &l : layers) {
    if (!only.empty() && only != l.name)
      continue;
    const Shape4 xs{l.n, l.c, l.side, l.side};
    const Shape4 ys = conv.outputShape(xs, l.o);
    auto x = random(xs.count(), 1, 1.0f), w = random(l.o * l.c * 9, 2, 0.05f),
         b = random(l.o, 3, 0.1f), dy = random(ys.count(), 4, 1.0f);
    std::vector<float> y(ys.count()), dw(w.size()), db(l.o), dx(xs.count());
    Workspace ws;
    const double flops = 2.0 * ys.count() * l.c * 9;
    const double tf = best(repeats, [&] {
      conv2dForward(x.data(), xs, w.data(), l.o, b.data(), conv, y.data(), ws);
    });
    const double tw = best(repeats, [&] {
      conv2dBackwardWeight(x.data(), xs, dy.data(), ys, conv, dw.data(), db.data(), ws);
    });
    const double td = best(repeats, [&] {
      conv2dBackwardData(dy.data(), ys, w.data(), conv, dx.data(), xs, ws);
    });
    std::printf("%-7s x[%lld,%lld,%lld,%lld] -> %lld: forward %7.1f ms %6.1f GFLOP/s | "
                "backward-weight %7.1f ms %6.1f GFLOP/s | backward-data %7.1f ms %6.1f GFLOP/s\n",
                l.name, (long long)xs.n, (long long)xs.c, (long long)xs.h, (long long)xs.w,
                (long long)l.o, tf * 1e3, flops / tf * 1e-9, tw * 1e3, flops / tw * 1e-9,
                td * 1e3, flops / td * 1e-9);
  }

  if (only.empty() || only == "bilinear") {
    const int64_t n = 32, d = 8192;
    auto z = random(n * d, 5, 0.05f), proj = random(d * d, 6, 1e-3f);
    std::vector<float> dz(n * d), dproj(d * d), factors(n * d), m(d * d), v(d * d);
    BilinearLossConfig cfg;
    const locus::abi::LossKernels losses = linkedModel().losses;
    const UpdateKernels updates = linkedModel().update;
    AdamW opt;
    int64_t t = 1;
    const double tLoss = best(repeats, [&] {
      bilinearLoss(losses, cfg, n, d, d, z.data(), z.data(), proj.data(), nullptr, dz.data(),
                   dproj.data(), false);
    });
    const double tStep =
        best(repeats, [&] {
          adamwStep(updates, opt, t++, d * d, proj.data(), dproj.data(), m.data(), v.data());
        });
    const double tFactors = best(repeats, [&] {
      bilinearLossFactors(losses, cfg, n, d, d, z.data(), z.data(), proj.data(), nullptr, dz.data(),
                          factors.data(), false);
    });
    const double tFused = best(repeats, [&] {
      adamwStepOuterProduct(opt, t++, d, d, n, factors.data(), z.data(), proj.data(), m.data(),
                           v.data());
    });
    std::printf("bilinear D=Dc=%lld N=%lld: bilinearLoss (with dB) %.1f ms + AdamW update %.1f ms "
                "= %.1f ms | bilinearLossFactors %.1f ms + stepOuterProduct %.1f ms = %.1f ms\n",
                (long long)d, (long long)n, tLoss * 1e3, tStep * 1e3, (tLoss + tStep) * 1e3,
                tFactors * 1e3, tFused * 1e3, (tFactors + tFused) * 1e3);
  }
  return 0;
}
