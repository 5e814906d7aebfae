//===- CudaEngineTest.cpp - training steps on the GPU vs the CPU ----------===//
//
// Each rule's test model compiled twice, for the CPU and with --target=cuda,
// trained from the same seed on the same views for a few steps: the CUDA
// backend (cuDNN, cuBLAS and the generated GPU kernels, TF32 off) against
// the CPU backend. The losses must agree to 1e-4 relative every step, and
// the parameters after them to float32 rounding, but for the few elements
// where an AdamW update of size lr follows the sign of a gradient that is
// zero up to rounding (at most one such flip, lr, per element). Without a
// CUDA device every test skips, saying why.
//
//===----------------------------------------------------------------------===//
#include "EngineTestUtil.h"
#include "TestModels.h"

#include "locus/runtime/Device.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"
#include "locus/runtime/backend/cuda/CudaBackend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace locus {
namespace {

using rt::train::Engine;
using rt::train::EngineOptions;
using rt::train::Tensor;
using test::TestModel;

struct Case {
  const char *cpu, *cuda;
  rt::train::OptimizerKind kind = rt::train::OptimizerKind::AdamW;
  rt::MomentFormat moments = rt::MomentFormat::Float32;
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.cuda; }

class CudaEngine : public ::testing::TestWithParam<Case> {};

TEST_P(CudaEngine, TrainsAsTheCpuBackend) {
  rt::BackendInfo info = rt::queryBackends();
  if (info.devices.empty())
    GTEST_SKIP() << "no CUDA device: " << info.unavailableReason;
  const Case &c = GetParam();
  const TestModel &cpuModel = TestModel::get(c.cpu), &cudaModel = TestModel::get(c.cuda);
  EngineOptions cpuOptions = cpuModel.engineOptions(5), gpuOptions = cudaModel.engineOptions(5);
  for (EngineOptions *o : {&cpuOptions, &gpuOptions}) {
    o->kind = c.kind;
    o->moments = c.moments;
  }
  rt::cuda::CudaOptions cuda;
  cuda.precision = rt::cuda::Precision::FP32;
  std::string error;
  gpuOptions.backend =
      rt::cuda::makeCudaBackend(rt::cpu::modelKernelsOf(cudaModel.record()), cuda, error);
  ASSERT_TRUE(gpuOptions.backend) << error;
  std::unique_ptr<Engine> cpu, gpu;
  ASSERT_TRUE(Engine::create(cpuModel.desc(), cpuOptions, cpu).isOk());
  rt::Status created = Engine::create(cudaModel.desc(), gpuOptions, gpu);
  ASSERT_TRUE(created.isOk()) << created.message();

  ASSERT_NO_FATAL_FAILURE(test::expectStepsAgree(*cpu, *gpu, 3, [](int) { return 1e-4; }));
  const double lr = c.kind == rt::train::OptimizerKind::AdamW ? cpuOptions.optimizer.lr
                                                               : cpuOptions.sgd.lr;
  for (size_t i = 0; i < cpu->params().size(); ++i) {
    const Tensor &pc = cpu->params()[i], &pg = gpu->params()[i];
    std::vector<float> host(static_cast<size_t>(pg.count()));
    gpu->backend().copyToHost(host.data(), pg.data(), 4 * pg.count());
    int64_t off = 0;
    double worst = 0.0;
    for (int64_t k = 0; k < pc.count(); ++k) {
      const double diff = std::fabs(double(host[k]) - double(pc.data()[k]));
      ASSERT_FALSE(std::isnan(host[k])) << cpuModel.desc().params[i].name << "[" << k << "]";
      worst = std::max(worst, diff);
      if (diff > 1e-5 * (1.0 + std::fabs(pc.data()[k])))
        ++off;
    }
    const std::string name = cpuModel.desc().params[i].name;
    EXPECT_LE(worst, 3.0 * lr + 1e-5) << name;
    EXPECT_LE(off, std::max<int64_t>(1, pc.count() / 1000)) << name << ": " << off << " of "
                                                            << pc.count() << " elements differ";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, CudaEngine,
    ::testing::Values(Case{"tiny", "tiny-cuda"}, Case{"tiny-dfb", "tiny-dfb-cuda"},
                      Case{"tiny-both", "tiny-both-cuda"}, Case{"tiny-bp", "tiny-bp-cuda"},
                      Case{"tiny-phyll", "tiny-phyll-cuda"},
                      Case{"tiny-infonce", "tiny-infonce-cuda"},
                      Case{"tiny-random", "tiny-random-cuda"},
                      Case{"tiny-fused", "tiny-fused-cuda"},
                      Case{"tiny-triangle", "tiny-triangle-cuda"},
                      Case{"goodness-ff", "goodness-ff-cuda"},
                      Case{"goodness-scff", "goodness-scff-cuda"},
                      Case{"tiny", "tiny-cuda", rt::train::OptimizerKind::Sgd},
                      Case{"tiny", "tiny-cuda", rt::train::OptimizerKind::AdamW,
                           rt::MomentFormat::BFloat16}),
    [](const ::testing::TestParamInfo<Case> &info) {
      std::string name = info.param.cuda;
      for (char &ch : name)
        if (ch == '-')
          ch = '_';
      if (info.param.kind == rt::train::OptimizerKind::Sgd)
        name += "_sgd";
      if (info.param.moments == rt::MomentFormat::BFloat16)
        name += "_bf16";
      return name;
    });

} // namespace
} // namespace locus
