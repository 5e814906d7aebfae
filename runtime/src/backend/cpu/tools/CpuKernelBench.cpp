//===- CpuKernelBench.cpp - timing of the CPU kernels (not a test) --------===//
//
// GFLOP/s of conv2dForward / conv2dBackwardWeight / conv2dBackwardData at the
// VGG-6 shapes (CIFAR-10, batch 16 images = 32 rows), and the time of the
// bilinear-rule kernels at D = 8192 (the loss kernel is locusc's: link an
// object compiled with --all-loss-kernels), and (--only relupool) the linked
// model's relu + max-pool kernels, forward + adjoint with the arg-max and
// without it (the adjoint over a), at batch 64. Not part of the build; from
// build/:
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
#include "locus/runtime/backend/cpu/Optimizer.h"
#include "locus/runtime/backend/cpu/ReluPoolKernels.h"

#include "../Blocked.h"

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

  if (only.empty() || only == "relupool") {
    const ReluPoolKernels &table = linkedModel().reluPools;
    for (int64_t e = 0; e < table.count; ++e) {
      const ReluPoolKernel &k = table.entries[e];
      const int64_t n = 64, oh = k.h / k.kh, ow = k.w / k.kw;
      auto a = random(n * k.c * k.h * k.w, 5, 1.0f), dh = random(n * k.c * oh * ow, 6, 1.0f);
      std::vector<float> h(dh.size()), da(a.size()), work(a.size());
      std::vector<int32_t> at(dh.size());
      const double indexed = best(repeats, [&] {
        reluPoolForward(k, a.data(), h.data(), at.data(), n);
        reluPoolBackward(k, dh.data(), h.data(), at.data(), da.data(), n);
      });
      // The in-place adjoint overwrites its input: each run starts from a copy,
      // timed apart and subtracted.
      const double copy = best(repeats, [&] { std::memcpy(work.data(), a.data(), 4 * a.size()); });
      double inPlace = -1.0;
      if (k.forwardUnindexed && k.backwardInPlace)
        inPlace = best(repeats, [&] {
                    std::memcpy(work.data(), a.data(), 4 * a.size());
                    reluPoolForwardUnindexed(k, work.data(), h.data(), n);
                    reluPoolBackwardInPlace(k, dh.data(), work.data(), n);
                  }) -
                  copy;
      std::printf("relu + max-pool %lldx%lldx%lld k%lldx%lld, batch %lld, forward + adjoint: "
                  "with arg-max %.3f ms, without (adjoint over a) %.3f ms\n",
                  (long long)k.c, (long long)k.h, (long long)k.w, (long long)k.kh,
                  (long long)k.kw, (long long)n, indexed * 1e3, inPlace * 1e3);
    }
  }

  if (only.empty() || only == "bilinear") {
    // One bilinear term as the step program runs it: bc = c B^T, the
    // generated loss kernel, then B's update from dB = factors^T c (SGD,
    // LARS) or AdamW from the factors (dB never formed).
    const int64_t n = 32, d = 8192;
    auto z = random(n * d, 5, 0.05f), proj = random(d * d, 6, 1e-3f);
    std::vector<float> bc(n * d), dz(n * d), dproj(d * d), factors(n * d), m(d * d), v(d * d);
    std::vector<double> work(4 * n);
    std::vector<int32_t> negatives(n); // a valid row other than r and its pair
    for (int64_t r = 0; r < n; ++r)
      negatives[r] = static_cast<int32_t>((r + 1) % n);
    double loss = 0.0;
    // The model's first bilinear loss kernel (the rule compiled into it).
    const auto &table = linkedModel().losses.bilinear;
    if (table.count == 0) {
      std::fprintf(stderr, "error: the linked model has no bilinear loss kernel\n");
      return 1;
    }
    const auto *kernel = &table.entries[0];
    const UpdateKernels updates = linkedModel().update;
    AdamW opt;
    int64_t t = 1;
    const double tProject =
        best(repeats, [&] { projectRows(n, d, d, proj.data(), z.data(), bc.data()); });
    const double tKernel = best(repeats, [&] {
      auto zRef = locus::abi::memref2(z.data(), n, d), bcRef = locus::abi::memref2(bc.data(), n, d);
      auto dzRef = locus::abi::memref2(dz.data(), n, d);
      auto fRef = locus::abi::memref2(factors.data(), n, d);
      auto negRef = locus::abi::memref1(negatives.data(), n); // read by random-negative kernels
      auto workRef = locus::abi::memref2(work.data(), n, 4);
      locus::abi::MemRef0F64 lossRef{&loss, &loss, 0};
      kernel->run(&zRef, &bcRef, &negRef, &dzRef, &fRef, &workRef, &lossRef, 0.0, 1.0, false);
    });
    const double tOuter = best(repeats, [&] {
      outerProduct(d, d, n, factors.data(), z.data(), false, dproj.data());
    });
    const double tStep = best(repeats, [&] {
      adamwStep(updates, opt, t++, d * d, proj.data(), dproj.data(), m.data(), v.data());
    });
    const double tFused = best(repeats, [&] {
      adamwStepOuterProduct(opt, t++, d, d, n, factors.data(), z.data(), proj.data(), m.data(),
                            v.data());
    });
    // Late in a run (beta2's bias correction has rounded to 1).
    int64_t late = 20000;
    const double tFusedLate = best(repeats, [&] {
      adamwStepOuterProduct(opt, late++, d, d, n, factors.data(), z.data(), proj.data(),
                            m.data(), v.data());
    });
    // The same with bfloat16 moments (--optimizer-state bfloat16).
    std::vector<BFloat16> mb(d * d), vb(d * d);
    AdamMoments bf16;
    bf16.mBf16 = mb.data();
    bf16.vBf16 = vb.data();
    const double tFusedBf16 = best(repeats, [&] {
      adamwStepOuterProduct(opt, t++, d, d, n, factors.data(), z.data(), proj.data(), bf16);
    });
    std::printf("bilinear D=Dc=%lld N=%lld: B c %.1f ms, %s %.2f ms | dB %.1f ms + "
                "AdamW %.1f ms = %.1f ms | AdamW from the factors %.1f ms (from step 20000: "
                "%.1f ms; bfloat16 moments %.1f ms)\n",
                (long long)d, (long long)n, tProject * 1e3, kernel->name, tKernel * 1e3, tOuter * 1e3,
                tStep * 1e3, (tOuter + tStep) * 1e3, tFused * 1e3, tFusedLate * 1e3,
                tFusedBf16 * 1e3);
  }
  return 0;
}
