//===- CudaBf16Test.cpp - --precision bf16 on the GPU ----------------------===//
//
// The CUDA backend under Precision::BF16: cuDNN runs each convolution on
// bfloat16 copies of its float32 operands (float32 accumulation) and widens
// the result; cuBLAS rounds GEMM operands to bfloat16. Two checks:
//
// - each convolution pass and a GEMM against a float64 reference, within the
//   error bfloat16 allows: both operands rounded (relative u each), the
//   float32 accumulation, the rounded result (relative r):
//   |got - exact| <= (2u + u^2 + K 2^-23) sum |a b| + r |exact|,
//   and further from the exact value than float32 would be somewhere (the
//   pass really ran in bfloat16). Our conversion rounds to nearest (u =
//   2^-9); how cuDNN rounds its bfloat16 result and cuBLAS its operands is
//   not documented, so those get a truncation's 2^-8. An index or layout
//   error is off by O(1), far outside either;
// - each rule's test model trained three steps on the GPU in bf16 against
//   the CPU in float32 from the same seed and views: the losses within 2%
//   (first step, before any update) and 10% (after two updates), parameters
//   finite.
//
// Without a CUDA device every test skips, saying why.
//
//===----------------------------------------------------------------------===//
#include "EngineTestUtil.h"
#include "NumericTestUtil.h"
#include "TestModels.h"

#include "locus/runtime/Device.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"
#include "locus/runtime/backend/cuda/CudaBackend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace locus {
namespace {

using rt::Shape4;
using rt::Window;
using rt::train::Engine;
using rt::train::EngineOptions;
using rt::train::Tensor;
using test::randomVector;
using test::TestModel;

#define REQUIRE_DEVICE()                                                                           \
  do {                                                                                             \
    rt::BackendInfo info = rt::queryBackends();                                                    \
    if (info.devices.empty())                                                                      \
      GTEST_SKIP() << "no CUDA device: " << info.unavailableReason;                                \
  } while (false)

std::unique_ptr<rt::Backend> bf16Backend(const char *model,
                                         int64_t stagingLimit = rt::cuda::kStagingLimit) {
  rt::cuda::CudaOptions options;
  options.precision = rt::cuda::Precision::BF16;
  options.stagingLimit = stagingLimit;
  std::string error;
  std::unique_ptr<rt::Backend> backend = rt::cuda::makeCudaBackend(
      rt::cpu::modelKernelsOf(TestModel::get(model).record()), options, error);
  EXPECT_TRUE(backend) << error;
  return backend;
}

/// A float32 host vector in device memory.
Tensor onDevice(rt::Backend &backend, const std::vector<float> &host) {
  Tensor t = backend.allocate(Shape4{static_cast<int64_t>(host.size()), 1, 1, 1});
  backend.copyToDevice(t.data(), host.data(), 4 * static_cast<int64_t>(host.size()));
  return t;
}
std::vector<float> onHost(rt::Backend &backend, const Tensor &t) {
  std::vector<float> host(static_cast<size_t>(t.count()));
  backend.copyToHost(host.data(), t.data(), 4 * t.count());
  return host;
}

/// One element's exact value and the sum of its products' magnitudes.
struct Exact {
  std::vector<double> value, magnitude;
  int64_t terms = 0; ///< products per element (K)
};

/// Checks got against the bound with operand rounding u and result rounding
/// r, and that some element is further from the exact value than a float32
/// computation could be.
void expectBf16(const std::vector<float> &got, const Exact &exact, double u, double r,
                const char *what) {
  ASSERT_EQ(got.size(), exact.value.size()) << what;
  double largestRelative = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - exact.value[i]);
    const double bound = (2 * u + u * u + exact.terms * std::ldexp(1.0, -23)) * exact.magnitude[i] +
                         r * std::fabs(exact.value[i]) + 1e-30;
    ASSERT_LE(err, bound) << what << "[" << i << "]: got " << got[i] << ", exact "
                          << exact.value[i];
    if (exact.magnitude[i] > 0)
      largestRelative = std::max(largestRelative, err / exact.magnitude[i]);
  }
  EXPECT_GT(largestRelative, 1e-4) << what << ": as close as float32: did it run in bfloat16?";
}

class CudaBf16Convolutions : public ::testing::TestWithParam<int64_t> {};

// The whole batch at once (the default limit), and in row chunks (a limit of
// 5000 bytes: the padded convolution's copies take 3328 bytes a row, so it
// runs one row at a time; the strided one's 4096 for two rows, so it runs 2
// + 1): the weight and bias gradients then sum over the chunks.
TEST_P(CudaBf16Convolutions, WithinTheBfloat16Bound) {
  REQUIRE_DEVICE();
  std::unique_ptr<rt::Backend> backend = bf16Backend("tiny-cuda", GetParam());
  ASSERT_TRUE(backend);
  // A padded stride-1 and an unpadded stride-2 convolution.
  for (const Window win : {Window{3, 3, 1, 1, 1, 1, 1, 1}, Window{3, 3, 2, 2, 0, 0, 0, 0}}) {
    const Shape4 xs{3, 7, 11, 9};
    const int64_t outChannels = 5;
    const int64_t rows =
        rt::cuda::convStaging(xs.n, xs.c, xs.h, xs.w, outChannels, win.kh, win.kw, win.sh, win.sw,
                              win.pt + win.pb, win.pl + win.pr, GetParam())
            .rows;
    EXPECT_EQ(rows, GetParam() == rt::cuda::kStagingLimit ? 3 : win.sh == 1 ? 1 : 2);
    const Shape4 ys = win.outputShape(xs, outChannels);
    const int64_t wCount = outChannels * xs.c * win.kh * win.kw;
    const std::vector<float> x = randomVector(xs.count(), 1), w = randomVector(wCount, 2),
                             b = randomVector(outChannels, 3), dy = randomVector(ys.count(), 4);
    auto at = [](const Shape4 &s, int64_t n, int64_t c, int64_t h, int64_t v) {
      return ((n * s.c + c) * s.h + h) * s.w + v;
    };
    // Every (output, input, weight) triple of the convolution, once.
    auto forEachTap = [&](auto body) {
      for (int64_t n = 0; n < ys.n; ++n)
        for (int64_t o = 0; o < ys.c; ++o)
          for (int64_t i = 0; i < ys.h; ++i)
            for (int64_t j = 0; j < ys.w; ++j)
              for (int64_t c = 0; c < xs.c; ++c)
                for (int64_t r = 0; r < win.kh; ++r)
                  for (int64_t s = 0; s < win.kw; ++s) {
                    const int64_t h = i * win.sh + r - win.pt, v = j * win.sw + s - win.pl;
                    if (h < 0 || h >= xs.h || v < 0 || v >= xs.w)
                      continue;
                    body(at(ys, n, o, i, j), at(xs, n, c, h, v),
                         ((o * xs.c + c) * win.kh + r) * win.kw + s);
                  }
    };
    Exact y{std::vector<double>(ys.count()), std::vector<double>(ys.count()),
            xs.c * win.kh * win.kw};
    Exact dw{std::vector<double>(wCount), std::vector<double>(wCount), ys.n * ys.h * ys.w};
    Exact dx{std::vector<double>(xs.count()), std::vector<double>(xs.count()),
             outChannels * win.kh * win.kw};
    forEachTap([&](int64_t yi, int64_t xi, int64_t wi) {
      y.value[yi] += double(x[xi]) * w[wi];
      y.magnitude[yi] += std::fabs(double(x[xi]) * w[wi]);
      dw.value[wi] += double(x[xi]) * dy[yi];
      dw.magnitude[wi] += std::fabs(double(x[xi]) * dy[yi]);
      dx.value[xi] += double(w[wi]) * dy[yi];
      dx.magnitude[xi] += std::fabs(double(w[wi]) * dy[yi]);
    });

    Tensor gx = onDevice(*backend, x), gw = onDevice(*backend, w), gdy = onDevice(*backend, dy);
    Tensor gy = backend->allocate(ys), gdw = backend->allocate(Shape4{wCount, 1, 1, 1});
    Tensor gdx = backend->allocate(xs), gdb = backend->allocate(Shape4{outChannels, 1, 1, 1});
    // Without the bias first (the bound is the convolution's), then with it.
    backend->conv2dForward(gx.data(), xs, gw.data(), outChannels, nullptr, 1.0f, win, gy.data());
    backend->conv2dBackwardWeight(gx.data(), xs, gdy.data(), ys, win, gdw.data(), gdb.data(),
                                  1.0f);
    backend->conv2dBackwardData(gdy.data(), ys, gw.data(), win, gdx.data(), xs);
    const std::vector<float> yGot = onHost(*backend, gy);
    const double nearest = std::ldexp(1.0, -9), truncated = std::ldexp(1.0, -8);
    expectBf16(yGot, y, nearest, truncated, "y");
    expectBf16(onHost(*backend, gdw), dw, nearest, truncated, "dw");
    expectBf16(onHost(*backend, gdx), dx, nearest, truncated, "dx");

    // The bias and its gradient are float32 work on float32 buffers.
    Tensor gb = onDevice(*backend, b);
    backend->conv2dForward(gx.data(), xs, gw.data(), outChannels, gb.data(), 0.5f, win,
                           gy.data());
    const std::vector<float> yBias = onHost(*backend, gy), db = onHost(*backend, gdb);
    for (int64_t n = 0; n < ys.n; ++n)
      for (int64_t o = 0; o < ys.c; ++o)
        for (int64_t p = 0; p < ys.plane(); ++p) {
          const int64_t i = (n * ys.c + o) * ys.plane() + p;
          ASSERT_NEAR(yBias[i], yGot[i] + 0.5f * b[o], 1e-6 * (1 + std::fabs(yBias[i])));
        }
    for (int64_t o = 0; o < outChannels; ++o) {
      double sum = 0.0;
      for (int64_t n = 0; n < ys.n; ++n)
        for (int64_t p = 0; p < ys.plane(); ++p)
          sum += dy[(n * ys.c + o) * ys.plane() + p];
      EXPECT_NEAR(db[o], sum, 1e-5 * (1 + std::fabs(sum))) << "db[" << o << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Staging, CudaBf16Convolutions,
                         ::testing::Values(rt::cuda::kStagingLimit, int64_t{5000}),
                         [](const ::testing::TestParamInfo<int64_t> &info) {
                           return std::string(info.param == rt::cuda::kStagingLimit
                                                  ? "whole_batch"
                                                  : "row_chunks");
                         });

TEST(CudaBf16, GemmRoundsItsOperandsToBfloat16) {
  REQUIRE_DEVICE();
  std::unique_ptr<rt::Backend> backend = bf16Backend("tiny-cuda");
  ASSERT_TRUE(backend);
  const int64_t m = 37, n = 29, k = 300;
  const std::vector<float> a = randomVector(m * k, 5), b = randomVector(k * n, 6);
  Exact c{std::vector<double>(m * n), std::vector<double>(m * n), k};
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) {
        c.value[i * n + j] += double(a[i * k + p]) * b[p * n + j];
        c.magnitude[i * n + j] += std::fabs(double(a[i * k + p]) * b[p * n + j]);
      }
  // A float32 result (r = 0); cuBLAS's operand rounding is not documented.
  Tensor ga = onDevice(*backend, a), gb = onDevice(*backend, b);
  Tensor gc = backend->allocate(Shape4{m * n, 1, 1, 1});
  backend->gemm(false, false, m, n, k, 1.0f, ga.data(), gb.data(), 0.0f, gc.data());
  expectBf16(onHost(*backend, gc), c, std::ldexp(1.0, -8), 0.0, "C = A B");
}

struct Rule {
  const char *cpu, *cuda;
};
void PrintTo(const Rule &r, std::ostream *os) { *os << r.cuda; }

class CudaBf16Engine : public ::testing::TestWithParam<Rule> {};

TEST_P(CudaBf16Engine, TrainsCloseToTheFloat32Cpu) {
  REQUIRE_DEVICE();
  const TestModel &cpuModel = TestModel::get(GetParam().cpu),
                  &cudaModel = TestModel::get(GetParam().cuda);
  EngineOptions cpuOptions = cpuModel.engineOptions(5), gpuOptions = cudaModel.engineOptions(5);
  gpuOptions.backend = bf16Backend(GetParam().cuda);
  ASSERT_TRUE(gpuOptions.backend);
  std::unique_ptr<Engine> cpu, gpu;
  ASSERT_TRUE(Engine::create(cpuModel.desc(), cpuOptions, cpu).isOk());
  rt::Status created = Engine::create(cudaModel.desc(), gpuOptions, gpu);
  ASSERT_TRUE(created.isOk()) << created.message();
  ASSERT_NO_FATAL_FAILURE(
      test::expectStepsAgree(*cpu, *gpu, 3, [](int s) { return s == 0 ? 0.02 : 0.10; }));
  for (size_t i = 0; i < gpu->params().size(); ++i) {
    const Tensor &p = gpu->params()[i];
    std::vector<float> host(static_cast<size_t>(p.count()));
    gpu->backend().copyToHost(host.data(), p.data(), 4 * p.count());
    for (float v : host)
      ASSERT_TRUE(std::isfinite(v)) << cpuModel.desc().params[i].name;
  }
}

// A local rule, global backprop (the convolutions' data gradient) and FF on
// 2N rows.
INSTANTIATE_TEST_SUITE_P(Rules, CudaBf16Engine,
                         ::testing::Values(Rule{"tiny", "tiny-cuda"},
                                           Rule{"tiny-bp", "tiny-bp-cuda"},
                                           Rule{"goodness-ff", "goodness-ff-cuda"}),
                         [](const ::testing::TestParamInfo<Rule> &info) {
                           std::string name = info.param.cuda;
                           for (char &ch : name)
                             if (ch == '-')
                               ch = '_';
                           return name;
                         });

} // namespace
} // namespace locus
