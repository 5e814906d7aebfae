//===- GpuFormKernelsTest.cpp - the GPU form of the kernels vs the CPU's --===//
//
// The fmnist example compiled from the same kernel generators three ways:
// for the CPU (linked into this binary), with --target=cuda (the test model
// fmnist-cuda: PTX and host launches, device buffers) and for the CPU from
// the GPU form (fmnist-tiled: the loops tiled and mapped as for the GPU, run
// as loops: the mapping's index arithmetic and bounds checks, testable on
// every machine). Every kernel family runs on the same inputs and the
// results must agree with the CPU build: indices exactly, floats to a few
// float32 ulps (the GPU contracts a * b + c into one fma), float64 losses to
// 1e-12 (atomic sums run in another order on a GPU). Without a CUDA device
// the GPU instances skip, saying why.
//
//===----------------------------------------------------------------------===//
#include "CompiledTables.h"
#include "NumericTestUtil.h"
#include "TestModels.h"

#include "locus/runtime/Device.h"
#include "locus/runtime/abi/LossKernels.h"
#include "locus/runtime/abi/PoolingKernels.h"
#include "locus/runtime/backend/cpu/CompiledKernels.h"
#if defined(LOCUS_HAVE_CUDA)
#include "locus/runtime/backend/cuda/KernelLaunch.h"
#include <cuda_runtime_api.h>
#endif

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <list>
#include <vector>

namespace locus {
namespace {

using namespace locus::rt::cpu;
using locus::test::randomVector;

/// Where the GPU form runs: a model and whether its buffers are device memory.
struct Form {
  const char *model;
  bool device;
};
void PrintTo(const Form &f, std::ostream *os) { *os << f.model; }

/// Copies of host vectors where the form runs (device or host memory),
/// freed with the test.
class Gpu {
public:
  explicit Gpu(bool device) : device_(device) {}
  ~Gpu() {
#if defined(LOCUS_HAVE_CUDA)
    for (void *p : buffers_)
      cudaFree(p);
#endif
  }
  template <typename T> T *upload(const std::vector<T> &host) {
    if (!device_) {
      host_.emplace_back(reinterpret_cast<const char *>(host.data()),
                         reinterpret_cast<const char *>(host.data() + host.size()));
      host_.back().resize(host_.back().size() + 64);
      return reinterpret_cast<T *>(host_.back().data());
    }
#if defined(LOCUS_HAVE_CUDA)
    void *p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, host.size() * sizeof(T) + 64), cudaSuccess);
    buffers_.push_back(p);
    EXPECT_EQ(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
              cudaSuccess);
    return static_cast<T *>(p);
#else
    return nullptr;
#endif
  }
  template <typename T> std::vector<T> download(const T *data, size_t count) {
    std::vector<T> host(count);
    if (!device_) {
      std::memcpy(host.data(), data, count * sizeof(T));
      return host;
    }
#if defined(LOCUS_HAVE_CUDA)
    // The legacy stream orders this after the kernels launched on it.
    EXPECT_EQ(cudaMemcpy(host.data(), data, count * sizeof(T), cudaMemcpyDeviceToHost),
              cudaSuccess);
#endif
    return host;
  }

private:
  bool device_;
  std::vector<void *> buffers_;
  std::list<std::vector<char>> host_;
};

class GpuFormKernels : public ::testing::TestWithParam<Form> {};

/// The model of the form under test.
const abi::ModelRecord &formModel() {
  return test::TestModel::get(GpuFormKernels::GetParam().model).record();
}

/// Skips a GPU instance without a usable device.
#define REQUIRE_GPU()                                                                              \
  do {                                                                                             \
    if (GetParam().device) {                                                                       \
      rt::BackendInfo info = rt::queryBackends();                                                  \
      if (info.devices.empty())                                                                    \
        GTEST_SKIP() << "no CUDA device: " << info.unavailableReason;                              \
    }                                                                                              \
  } while (false)

/// |gpu - cpu| <= tol (1 + |cpu|) everywhere; NaN only where both are.
template <typename T>
void expectClose(const std::vector<T> &gpu, const std::vector<T> &cpu, double tol,
                 const char *what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  for (size_t i = 0; i < gpu.size(); ++i) {
    double a = gpu[i], b = cpu[i];
    if (std::isnan(a) || std::isnan(b)) {
      ASSERT_TRUE(std::isnan(a) && std::isnan(b)) << what << "[" << i << "]: " << a << " vs " << b;
      continue;
    }
    ASSERT_LE(std::fabs(a - b), tol * (1.0 + std::fabs(b)))
        << what << "[" << i << "]: GPU " << a << ", CPU " << b;
  }
}

constexpr double kFloatTol = 1e-5;

#if defined(LOCUS_HAVE_CUDA)
TEST(CudaKernels, LoadWithoutADevice) {
  // Loading a --target=cuda model runs its module constructors, which only
  // record the PTX: no CUDA call, so this holds on every machine.
  const abi::ModelRecord &model = test::TestModel::get("fmnist-cuda").record();
  EXPECT_NE(model.activations, nullptr);
  EXPECT_EQ(rt::cuda::launchStats().modulesLoaded, 0);
}
#endif

TEST_P(GpuFormKernels, ReluForwardAndBackward) {
  REQUIRE_GPU();
  const int64_t n = 10007;
  std::vector<float> x = randomVector(n, 1), dy = randomVector(n, 2);
  x[5] = NAN;
  Gpu gpu(GetParam().device);
  std::vector<float> y(n), dx(n);
  abi::MemRef1F32 xs = abi::memref1(x.data(), n), ys = abi::memref1(y.data(), n);
  abi::MemRef1F32 dys = abi::memref1(dy.data(), n), dxs = abi::memref1(dx.data(), n);
  test::compiledActivations().reluForward(&xs, &ys);
  test::compiledActivations().reluBackward(&ys, &dys, &dxs);

  float *dX = gpu.upload(x), *dY = gpu.upload(y), *dDy = gpu.upload(dy), *dDx = gpu.upload(dx);
  abi::MemRef1F32 gx = abi::memref1(dX, n), gy = abi::memref1(dY, n);
  abi::MemRef1F32 gdy = abi::memref1(dDy, n), gdx = abi::memref1(dDx, n);
  formModel().activations->reluForward(&gx, &gy);
  formModel().activations->reluBackward(&gy, &gdy, &gdx);
  expectClose(gpu.download(dY, n), y, 0.0, "y");
  expectClose(gpu.download(dDx, n), dx, 0.0, "dx");
#if defined(LOCUS_HAVE_CUDA)
  if (GetParam().device) {
    EXPECT_GE(rt::cuda::launchStats().launches, 2);
  }
#endif
}

TEST_P(GpuFormKernels, TriangleForwardAndBackward) {
  REQUIRE_GPU();
  const int64_t n = 3, c = 5, hw = 37, count = n * c * hw;
  std::vector<float> x = randomVector(count, 3), dy = randomVector(count, 4);
  std::vector<float> y(count), dx(count);
  abi::MemRef3F32 xs = abi::memref3(x.data(), n, c, hw), ys = abi::memref3(y.data(), n, c, hw);
  abi::MemRef3F32 dys = abi::memref3(dy.data(), n, c, hw),
                  dxs = abi::memref3(dx.data(), n, c, hw);
  test::compiledActivations().triangleForward(&xs, &ys);
  test::compiledActivations().triangleBackward(&xs, &dys, &dxs);
  Gpu gpu(GetParam().device);
  float *dX = gpu.upload(x), *dY = gpu.upload(y), *dDy = gpu.upload(dy), *dDx = gpu.upload(dx);
  abi::MemRef3F32 gx = abi::memref3(dX, n, c, hw), gy = abi::memref3(dY, n, c, hw);
  abi::MemRef3F32 gdy = abi::memref3(dDy, n, c, hw), gdx = abi::memref3(dDx, n, c, hw);
  formModel().activations->triangleForward(&gx, &gy);
  formModel().activations->triangleBackward(&gx, &gdy, &gdx);
  expectClose(gpu.download(dY, count), y, kFloatTol, "y");
  expectClose(gpu.download(dDx, count), dx, kFloatTol, "dx");
}

TEST_P(GpuFormKernels, GeneralPoolingBothWays) {
  REQUIRE_GPU();
  // 3x3 windows, stride 2, padding 1: overlapping windows in the adjoints.
  const int64_t planes = 6, ih = 9, iw = 11, k = 3, s = 2, pad = 1;
  const int64_t oh = (ih + 2 * pad - k) / s + 1, ow = (iw + 2 * pad - k) / s + 1;
  const int64_t in = planes * ih * iw, out = planes * oh * ow;
  std::vector<float> x = randomVector(in, 5), dy = randomVector(out, 6);
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "relu" : "plain");
    std::vector<float> y(out), dx(in), ya(out), dxa(in);
    std::vector<int32_t> at(out);
    auto planes3 = [&](float *p, int64_t h, int64_t w) { return abi::memref3(p, planes, h, w); };
    auto index3 = [&](int32_t *p) { return abi::memref3(p, planes, oh, ow); };
    const abi::PoolingKernels &cpu = test::compiledPooling();
    const abi::PoolingKernels &cuda = *formModel().pooling;
    abi::MemRef3F32 xs = planes3(x.data(), ih, iw), ys = planes3(y.data(), oh, ow);
    abi::MemRef3I32 as = index3(at.data());
    cpu.maxForward(&xs, &ys, &as, k, k, s, s, pad, pad, 7, relu);
    abi::MemRef3F32 dys = planes3(dy.data(), oh, ow), dxs = planes3(dx.data(), ih, iw);
    cpu.maxBackward(&dys, &ys, &as, &dxs, 7, relu);
    abi::MemRef3F32 yas = planes3(ya.data(), oh, ow), dxas = planes3(dxa.data(), ih, iw);
    cpu.avgForward(&xs, &yas, k, k, s, s, pad, pad);
    // The average adjoint's relu mask reads y shaped as dx: use x.
    cpu.avgBackward(&dys, &xs, &dxas, k, k, s, s, pad, pad, relu);

    Gpu gpu(GetParam().device);
    float *gX = gpu.upload(x), *gY = gpu.upload(y), *gDy = gpu.upload(dy), *gDx = gpu.upload(dx);
    float *gYa = gpu.upload(ya), *gDxa = gpu.upload(dxa);
    int32_t *gAt = gpu.upload(at);
    abi::MemRef3F32 gxs = planes3(gX, ih, iw), gys = planes3(gY, oh, ow);
    abi::MemRef3I32 gas = index3(gAt);
    cuda.maxForward(&gxs, &gys, &gas, k, k, s, s, pad, pad, 7, relu);
    abi::MemRef3F32 gdys = planes3(gDy, oh, ow), gdxs = planes3(gDx, ih, iw);
    cuda.maxBackward(&gdys, &gys, &gas, &gdxs, 7, relu);
    abi::MemRef3F32 gyas = planes3(gYa, oh, ow), gdxas = planes3(gDxa, ih, iw);
    cuda.avgForward(&gxs, &gyas, k, k, s, s, pad, pad);
    cuda.avgBackward(&gdys, &gxs, &gdxas, k, k, s, s, pad, pad, relu);
    expectClose(gpu.download(gY, out), y, 0.0, "max y");
    expectClose(gpu.download(gAt, out), at, 0.0, "argmax");
    expectClose(gpu.download(gDx, in), dx, kFloatTol, "max dx");
    expectClose(gpu.download(gYa, out), ya, kFloatTol, "avg y");
    expectClose(gpu.download(gDxa, in), dxa, kFloatTol, "avg dx");
  }
}

TEST_P(GpuFormKernels, StaticLossAndReluPools) {
  REQUIRE_GPU();
  const int64_t n = 5;
  const LossPoolKernels cpuPools = linkedModel().lossPools, cudaPools = formModel().lossPools;
  ASSERT_EQ(cpuPools.count, cudaPools.count);
  for (int64_t e = 0; e < cpuPools.count; ++e) {
    const LossPoolKernel &c = cpuPools.entries[e];
    const LossPoolKernel *g = cudaPools.find(c.c, c.h, c.w, c.k);
    ASSERT_NE(g, nullptr);
    const int64_t oh = c.k ? c.h / c.k : 1, ow = c.k ? c.w / c.k : 1;
    const int64_t in = n * c.c * c.h * c.w, out = n * c.c * oh * ow;
    std::vector<float> h = randomVector(in, 7), dz = randomVector(out, 8), z(out), dh(in);
    MemRef4F32 hs = memref4(h.data(), n, c.c, c.h, c.w), zs = memref4(z.data(), n, c.c, oh, ow);
    MemRef4F32 dzs = memref4(dz.data(), n, c.c, oh, ow),
               dhs = memref4(dh.data(), n, c.c, c.h, c.w);
    c.pool(&hs, &zs);
    c.unpool(&dzs, &dhs);
    Gpu gpu(GetParam().device);
    float *gH = gpu.upload(h), *gZ = gpu.upload(z), *gDz = gpu.upload(dz), *gDh = gpu.upload(dh);
    MemRef4F32 ghs = memref4(gH, n, c.c, c.h, c.w), gzs = memref4(gZ, n, c.c, oh, ow);
    MemRef4F32 gdzs = memref4(gDz, n, c.c, oh, ow), gdhs = memref4(gDh, n, c.c, c.h, c.w);
    g->pool(&ghs, &gzs);
    g->unpool(&gdzs, &gdhs);
    expectClose(gpu.download(gZ, out), z, kFloatTol, "z");
    expectClose(gpu.download(gDh, in), dh, kFloatTol, "dh");
  }
  const ReluPoolKernels cpuRelu = linkedModel().reluPools, cudaRelu = formModel().reluPools;
  ASSERT_EQ(cpuRelu.count, cudaRelu.count);
  for (int64_t e = 0; e < cpuRelu.count; ++e) {
    const ReluPoolKernel &c = cpuRelu.entries[e];
    const ReluPoolKernel *g = cudaRelu.find(c.c, c.h, c.w, c.kh, c.kw);
    ASSERT_NE(g, nullptr);
    const int64_t oh = c.h / c.kh, ow = c.w / c.kw;
    const int64_t in = n * c.c * c.h * c.w, out = n * c.c * oh * ow;
    std::vector<float> a = randomVector(in, 9), dh = randomVector(out, 10), h(out), da(in);
    std::vector<int32_t> at(out);
    MemRef4F32 as = memref4(a.data(), n, c.c, c.h, c.w), hs = memref4(h.data(), n, c.c, oh, ow);
    MemRef4I32 ats = memref4(at.data(), n, c.c, oh, ow);
    MemRef4F32 dhs = memref4(dh.data(), n, c.c, oh, ow),
               das = memref4(da.data(), n, c.c, c.h, c.w);
    c.forward(&as, &hs, &ats);
    c.backward(&dhs, &hs, &ats, &das);
    Gpu gpu(GetParam().device);
    float *gA = gpu.upload(a), *gH = gpu.upload(h), *gDh = gpu.upload(dh), *gDa = gpu.upload(da);
    int32_t *gAt = gpu.upload(at);
    MemRef4F32 gas = memref4(gA, n, c.c, c.h, c.w), ghs = memref4(gH, n, c.c, oh, ow);
    MemRef4I32 gats = memref4(gAt, n, c.c, oh, ow);
    MemRef4F32 gdhs = memref4(gDh, n, c.c, oh, ow), gdas = memref4(gDa, n, c.c, c.h, c.w);
    g->forward(&gas, &ghs, &gats);
    g->backward(&gdhs, &ghs, &gats, &gdas);
    expectClose(gpu.download(gH, out), h, 0.0, "h");
    expectClose(gpu.download(gAt, out), at, 0.0, "argmax");
    expectClose(gpu.download(gDa, in), da, 0.0, "da");
    // Without the arg-max: h alone, then da written over a.
    ASSERT_NE(g->forwardUnindexed, nullptr);
    ASSERT_NE(g->backwardInPlace, nullptr);
    float *gA2 = gpu.upload(a), *gH2 = gpu.upload(std::vector<float>(out));
    MemRef4F32 gas2 = memref4(gA2, n, c.c, c.h, c.w), ghs2 = memref4(gH2, n, c.c, oh, ow);
    g->forwardUnindexed(&gas2, &ghs2);
    g->backwardInPlace(&gdhs, &gas2);
    expectClose(gpu.download(gH2, out), h, 0.0, "h (unindexed)");
    expectClose(gpu.download(gA2, in), da, 0.0, "da (in place)");
  }
}

TEST_P(GpuFormKernels, EveryBilinearLoss) {
  REQUIRE_GPU();
  const int64_t n = 12, d = 37;
  const abi::LossKernels &cpu = test::compiledLosses();
  const abi::LossKernels &cuda = formModel().losses;
  ASSERT_EQ(cpu.bilinear.count, 16);
  std::vector<float> z = randomVector(n * d, 11), bc = randomVector(n * d, 12, -0.3f, 0.3f);
  std::vector<int32_t> negatives(n);
  for (int64_t r = 0; r < n; ++r)
    negatives[r] = int32_t((r * 7 + 3) % n);
  for (int64_t e = 0; e < cpu.bilinear.count; ++e) {
    const abi::BilinearLossKernel &c = cpu.bilinear.entries[e];
    SCOPED_TRACE(c.name);
    const abi::BilinearLossKernel *g = cuda.bilinear.find(c.name);
    ASSERT_NE(g, nullptr);
    for (bool accumulate : {false, true}) {
      std::vector<float> dz = randomVector(n * d, 13), factors(n * d, -1.0f);
      double loss = -1.0;
      Gpu gpu(GetParam().device);
      float *gZ = gpu.upload(z), *gBc = gpu.upload(bc), *gDz = gpu.upload(dz);
      float *gF = gpu.upload(factors);
      int32_t *gNeg = gpu.upload(negatives);
      double *gLoss = gpu.upload(std::vector<double>{-1.0});
      abi::MemRef2F32 zs = abi::memref2(z.data(), n, d), bcs = abi::memref2(bc.data(), n, d);
      abi::MemRef1I32 negs = abi::memref1(negatives.data(), n);
      abi::MemRef2F32 dzs = abi::memref2(dz.data(), n, d), fs = abi::memref2(factors.data(), n, d);
      abi::MemRef0F64 ls{&loss, &loss, 0};
      std::vector<double> work(4 * n);
      abi::MemRef2F64 gs = abi::memref2(work.data(), n, 4);
      c.run(&zs, &bcs, &negs, &dzs, &fs, &gs, &ls, 0.5, 0.75, accumulate);
      abi::MemRef2F32 gzs = abi::memref2(gZ, n, d), gbcs = abi::memref2(gBc, n, d);
      abi::MemRef1I32 gnegs = abi::memref1(gNeg, n);
      abi::MemRef2F32 gdzs = abi::memref2(gDz, n, d), gfs = abi::memref2(gF, n, d);
      abi::MemRef0F64 gls{gLoss, gLoss, 0};
      abi::MemRef2F64 ggs = abi::memref2(gpu.upload(work), n, 4);
      g->run(&gzs, &gbcs, &gnegs, &gdzs, &gfs, &ggs, &gls, 0.5, 0.75, accumulate);
      expectClose(gpu.download(gLoss, 1), std::vector<double>{loss}, 1e-12, "loss");
      expectClose(gpu.download(gDz, n * d), dz, kFloatTol, "dz");
      expectClose(gpu.download(gF, n * d), factors, kFloatTol, "factors");
    }
  }
}

TEST_P(GpuFormKernels, GoodnessLosses) {
  REQUIRE_GPU();
  const int64_t m = 6, c = 4, hw = 9, count = m * c * hw;
  const abi::LossKernels &cpu = test::compiledLosses();
  const abi::LossKernels &cuda = formModel().losses;
  ASSERT_EQ(cpu.goodness.count, 2);
  // Rows [0, m) the positives, [m, 2m) their negatives.
  std::vector<float> y = randomVector(2 * count, 14);
  for (int64_t e = 0; e < cpu.goodness.count; ++e) {
    const abi::GoodnessLossKernel &k = cpu.goodness.entries[e];
    SCOPED_TRACE(k.name);
    const abi::GoodnessLossKernel *g = cuda.goodness.find(k.name);
    ASSERT_NE(g, nullptr);
    std::vector<float> dy(2 * count);
    double loss = 0.0;
    abi::MemRef3F32 ys = abi::memref3(y.data(), 2 * m, c, hw);
    abi::MemRef3F32 dys = abi::memref3(dy.data(), 2 * m, c, hw);
    abi::MemRef0F64 ls{&loss, &loss, 0};
    k.run(&ys, &dys, &ls, 2.0, 1.5, 0.1, 0.5);
    Gpu gpu(GetParam().device);
    float *gY = gpu.upload(y), *gDy = gpu.upload(dy);
    // The loss goes into slot 1 of a buffer, as the step program's slots.
    double *gL = gpu.upload(std::vector<double>{7.0, 0.0});
    abi::MemRef3F32 gys = abi::memref3(gY, 2 * m, c, hw), gdys = abi::memref3(gDy, 2 * m, c, hw);
    abi::MemRef0F64 gls{gL, gL, 1};
    g->run(&gys, &gdys, &gls, 2.0, 1.5, 0.1, 0.5);
    expectClose(gpu.download(gL, 2), std::vector<double>{7.0, loss}, 1e-12, "loss slot");
    expectClose(gpu.download(gDy, 2 * count), dy, kFloatTol, "dy");
  }
}

TEST_P(GpuFormKernels, InfoNce) {
  REQUIRE_GPU();
  const int64_t n = 10, d = 23;
  const abi::InfoNceKernels *cpu = test::compiledLosses().infoNce;
  const abi::InfoNceKernels *cuda = formModel().losses.infoNce;
  ASSERT_NE(cpu, nullptr);
  ASSERT_NE(cuda, nullptr);
  std::vector<float> p = randomVector(n * d, 16), sim = randomVector(n * n, 17),
                     dph = randomVector(n * d, 18);
  std::vector<float> ph(n * d), dsim(n * n), dp(n * d);
  std::vector<double> norms(n);
  double loss = 0.0;
  abi::MemRef2F32 ps = abi::memref2(p.data(), n, d), phs = abi::memref2(ph.data(), n, d);
  abi::MemRef1F64 ns = abi::memref1(norms.data(), n);
  abi::MemRef2F32 ss = abi::memref2(sim.data(), n, n), dss = abi::memref2(dsim.data(), n, n);
  abi::MemRef2F32 dphs = abi::memref2(dph.data(), n, d), dps = abi::memref2(dp.data(), n, d);
  abi::MemRef0F64 ls{&loss, &loss, 0};
  cpu->normalize(&ps, &phs, &ns);
  cpu->loss(&ss, &dss, &ls, 0.1, 0.5);
  cpu->adjoint(&phs, &dphs, &ns, &dps);
  Gpu gpu(GetParam().device);
  float *gP = gpu.upload(p), *gPh = gpu.upload(ph), *gS = gpu.upload(sim), *gDs = gpu.upload(dsim);
  float *gDph = gpu.upload(dph), *gDp = gpu.upload(dp);
  double *gN = gpu.upload(norms), *gL = gpu.upload(std::vector<double>{0.0});
  abi::MemRef2F32 gps = abi::memref2(gP, n, d), gphs = abi::memref2(gPh, n, d);
  abi::MemRef1F64 gns = abi::memref1(gN, n);
  abi::MemRef2F32 gss = abi::memref2(gS, n, n), gdss = abi::memref2(gDs, n, n);
  abi::MemRef2F32 gdphs = abi::memref2(gDph, n, d), gdps = abi::memref2(gDp, n, d);
  abi::MemRef0F64 gls{gL, gL, 0};
  cuda->normalize(&gps, &gphs, &gns);
  cuda->loss(&gss, &gdss, &gls, 0.1, 0.5);
  cuda->adjoint(&gphs, &gdphs, &gns, &gdps);
  expectClose(gpu.download(gPh, n * d), ph, kFloatTol, "ph");
  expectClose(gpu.download(gN, n), norms, 1e-12, "norms");
  expectClose(gpu.download(gL, 1), std::vector<double>{loss}, 1e-12, "loss");
  expectClose(gpu.download(gDs, n * n), dsim, kFloatTol, "dsim");
  expectClose(gpu.download(gDp, n * d), dp, kFloatTol, "dp");
}

TEST_P(GpuFormKernels, GoodnessInputs) {
  REQUIRE_GPU();
  const int64_t n = 4, c = 3, h = 5, w = 6, hw = h * w;
  const abi::GoodnessInputKernels &cpu = test::compiledGoodnessInputs();
  const abi::GoodnessInputKernels &cuda = *formModel().goodnessInputs;
  std::vector<float> views = randomVector(n * c * hw, 19);
  std::vector<float> masks = randomVector(n * hw, 20, 0.0f, 1.0f);
  std::vector<int32_t> partners{2, 3, 0, 1};
  std::vector<float> out(2 * n * c * hw), masksCpu = masks;
  abi::MemRef3F32 vs = abi::memref3(views.data(), n, c, hw);
  abi::MemRef3F32 ms = abi::memref3(masksCpu.data(), n, h, w);
  abi::MemRef1I32 pts = abi::memref1(partners.data(), n);
  abi::MemRef3F32 os = abi::memref3(out.data(), 2 * n, c, hw);
  cpu.hybridNegatives(&vs, &ms, &pts, &os);
  const int64_t row = c * hw;
  std::vector<float> st(n * row), y(n * row), pairs(2 * n * row), normalized(n * row);
  abi::MemRef2F32 xs = abi::memref2(views.data(), n, row), sts = abi::memref2(st.data(), n, row);
  abi::MemRef2F32 prs = abi::memref2(pairs.data(), 2 * n, row);
  abi::MemRef2F32 nys = abi::memref2(normalized.data(), n, row);
  cpu.standardizePairs(&xs, &sts, &prs, true);
  cpu.lengthNormalizeRows(&xs, &nys);

  Gpu gpu(GetParam().device);
  float *gV = gpu.upload(views), *gM = gpu.upload(masks), *gO = gpu.upload(out);
  int32_t *gPt = gpu.upload(partners);
  float *gSt = gpu.upload(st), *gPr = gpu.upload(pairs), *gNy = gpu.upload(normalized);
  abi::MemRef3F32 gvs = abi::memref3(gV, n, c, hw), gms = abi::memref3(gM, n, h, w);
  abi::MemRef1I32 gpts = abi::memref1(gPt, n);
  abi::MemRef3F32 gos = abi::memref3(gO, 2 * n, c, hw);
  cuda.hybridNegatives(&gvs, &gms, &gpts, &gos);
  abi::MemRef2F32 gxs = abi::memref2(gV, n, row), gsts = abi::memref2(gSt, n, row);
  abi::MemRef2F32 gprs = abi::memref2(gPr, 2 * n, row), gnys = abi::memref2(gNy, n, row);
  cuda.standardizePairs(&gxs, &gsts, &gprs, true);
  cuda.lengthNormalizeRows(&gxs, &gnys);
  expectClose(gpu.download(gM, n * hw), masksCpu, kFloatTol, "blurred masks");
  expectClose(gpu.download(gO, out.size()), out, 0.0, "hybrids");
  expectClose(gpu.download(gSt, st.size()), st, kFloatTol, "standardised");
  expectClose(gpu.download(gPr, pairs.size()), pairs, kFloatTol, "pairs");
  expectClose(gpu.download(gNy, normalized.size()), normalized, kFloatTol, "normalised");
}

TEST_P(GpuFormKernels, OptimizerUpdates) {
  REQUIRE_GPU();
  const int64_t n = 4099;
  const UpdateKernels &cpu = test::compiledUpdates();
  const UpdateKernels &cuda = formModel().update;
  std::vector<float> g = randomVector(n, 21), p = randomVector(n, 22);
  std::vector<float> m = randomVector(n, 23, 0.0f, 0.1f), v = randomVector(n, 24, 0.0f, 0.1f);
  std::vector<float> pc = p, mc = m, vc = v;
  MemRefF32 gs{g.data(), g.data(), 0, n, 1}, ps{pc.data(), pc.data(), 0, n, 1};
  MemRefF32 ms{mc.data(), mc.data(), 0, n, 1}, vs{vc.data(), vc.data(), 0, n, 1};
  cpu.adamw(&gs, &ps, &ms, &vs, 0.999f, 0.1f, 0.9f, 0.999f, 0.001f, -1e-3f, 0.5f, 1e-8f);
  std::vector<float> ps2 = p, buf = m;
  MemRefF32 p2{ps2.data(), ps2.data(), 0, n, 1}, bs{buf.data(), buf.data(), 0, n, 1};
  cpu.sgd(&gs, &p2, &bs, 1e-4f, 0.5f, 0.9f, 0.1f);
  double pp = 0.0, gg = 0.0;
  MemRefScalarF64 pps{&pp, &pp, 0}, ggs{&gg, &gg, 0};
  MemRefF32 porig{p.data(), p.data(), 0, n, 1};
  cpu.larsNorms(&porig, &gs, &pps, &ggs, 0.25);

  Gpu gpu(GetParam().device);
  float *gG = gpu.upload(g), *gP = gpu.upload(p), *gM = gpu.upload(m), *gV = gpu.upload(v);
  float *gP2 = gpu.upload(p), *gB = gpu.upload(m), *gPo = gpu.upload(p);
  double *gPp = gpu.upload(std::vector<double>{0.0}), *gGg = gpu.upload(std::vector<double>{0.0});
  MemRefF32 ggs2{gG, gG, 0, n, 1}, gps{gP, gP, 0, n, 1}, gms{gM, gM, 0, n, 1},
      gvs{gV, gV, 0, n, 1};
  cuda.adamw(&ggs2, &gps, &gms, &gvs, 0.999f, 0.1f, 0.9f, 0.999f, 0.001f, -1e-3f, 0.5f, 1e-8f);
  MemRefF32 gp2{gP2, gP2, 0, n, 1}, gbs{gB, gB, 0, n, 1}, gpo{gPo, gPo, 0, n, 1};
  cuda.sgd(&ggs2, &gp2, &gbs, 1e-4f, 0.5f, 0.9f, 0.1f);
  MemRefScalarF64 gpps{gPp, gPp, 0}, gggs{gGg, gGg, 0};
  cuda.larsNorms(&gpo, &ggs2, &gpps, &gggs, 0.25);
  expectClose(gpu.download(gP, n), pc, kFloatTol, "adamw p");
  expectClose(gpu.download(gM, n), mc, kFloatTol, "adamw m");
  expectClose(gpu.download(gV, n), vc, kFloatTol, "adamw v");
  expectClose(gpu.download(gP2, n), ps2, kFloatTol, "sgd p");
  expectClose(gpu.download(gB, n), buf, kFloatTol, "sgd buf");
  expectClose(gpu.download(gPp, 1), std::vector<double>{pp}, 1e-12, "lars ||p||^2");
  expectClose(gpu.download(gGg, 1), std::vector<double>{gg}, 1e-12, "lars ||g'||^2");
}

/// x's nearest bfloat16 bits, ties to even, found as the nearer of the two
/// bfloat16 values around x (in float64), not by the kernels' bit trick.
uint16_t nearestBf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if (std::isnan(x))
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  const uint32_t towardZero = bits & 0xFFFF0000u, awayFromZero = towardZero + 0x10000u;
  auto value = [](uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return static_cast<double>(f);
  };
  if (std::isinf(x) || towardZero == bits)
    return static_cast<uint16_t>(bits >> 16);
  // awayFromZero may be infinity: rounding treats it as the next value,
  // 2^128 (so the largest finite bfloat16 rounds up to it from half an ulp
  // above, as IEEE's round to nearest says).
  const double below = std::fabs(double(x) - value(towardZero));
  const double away = (awayFromZero & 0x7FFFFFFFu) == 0x7F800000u
                          ? std::copysign(std::ldexp(1.0, 128), double(x))
                          : value(awayFromZero);
  const double above = std::fabs(away - double(x));
  if (below < above || (below == above && ((towardZero >> 16) & 1) == 0))
    return static_cast<uint16_t>(towardZero >> 16);
  return static_cast<uint16_t>(awayFromZero >> 16);
}

TEST_P(GpuFormKernels, PrecisionConversions) {
  REQUIRE_GPU();
  // Every bfloat16 widens exactly.
  std::vector<uint16_t> every(65536);
  for (uint32_t b = 0; b < every.size(); ++b)
    every[b] = static_cast<uint16_t>(b);
  // Floats at the rounding's edges: exact bfloat16 values, halfway between
  // two (kept half even and odd), one bit either side of halfway, the
  // largest finite float (rounds to infinity), subnormals, zeros,
  // infinities, NaNs of both signs, and random values over many exponents.
  std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x3F800000u, 0x3F808000u, 0x3F818000u,
                                0x3F807FFFu, 0x3F808001u, 0x3F818001u, 0x7F7FFFFFu, 0xFF7FFFFFu,
                                0x7F7F8000u, 0x7F7F7FFFu, 0x00000001u, 0x00008000u, 0x00018000u,
                                0x807FFFFFu, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00001u,
                                0x7F800001u, 0x7FFFFFFFu, 0xFFFFFFFFu};
  uint64_t state = 12345;
  while (bits.size() < 20000) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    bits.push_back(static_cast<uint32_t>(state >> 32));
  }
  std::vector<float> x(bits.size());
  std::memcpy(x.data(), bits.data(), 4 * bits.size());
  const int64_t n = static_cast<int64_t>(x.size()), m = static_cast<int64_t>(every.size());

  Gpu gpu(GetParam().device);
  float *gX = gpu.upload(x);
  uint16_t *gBits = gpu.upload(std::vector<uint16_t>(x.size())), *gEvery = gpu.upload(every);
  float *gWide = gpu.upload(std::vector<float>(every.size()));
  // Adding the finite bfloat16s to 0.25 (NaNs and infinities: no sum to
  // compare bit for bit).
  std::vector<uint16_t> finite;
  for (uint16_t b : every)
    if ((b & 0x7F80) != 0x7F80)
      finite.push_back(b);
  const int64_t f = static_cast<int64_t>(finite.size());
  uint16_t *gFinite = gpu.upload(finite);
  float *gSum = gpu.upload(std::vector<float>(finite.size(), 0.25f));
  abi::MemRef1F32 in = abi::memref1(gX, n), wide = abi::memref1(gWide, m);
  abi::MemRef1U16 out = abi::memref1(gBits, n), all = abi::memref1(gEvery, m);
  abi::MemRef1U16 addends = abi::memref1(gFinite, f);
  abi::MemRef1F32 sums = abi::memref1(gSum, f);
  ASSERT_NE(formModel().precision, nullptr);
  formModel().precision->toBf16(&in, &out);
  formModel().precision->toF32(&all, &wide);
  formModel().precision->addToF32(&addends, &sums);
  const std::vector<uint16_t> rounded = gpu.download(gBits, x.size());
  const std::vector<float> widened = gpu.download(gWide, every.size());
  const std::vector<float> summed = gpu.download(gSum, finite.size());

  // The CPU build's kernels too (the forms must agree with it bit for bit).
  std::vector<uint16_t> cpuRounded(x.size());
  abi::MemRef1F32 cin = abi::memref1(x.data(), n);
  abi::MemRef1U16 cout = abi::memref1(cpuRounded.data(), n);
  test::compiledPrecision().toBf16(&cin, &cout);
  for (size_t i = 0; i < x.size(); ++i) {
    const uint16_t want = nearestBf16(x[i]);
    if (std::isnan(x[i])) { // any NaN of x's sign
      ASSERT_EQ(rounded[i] & 0x8000, want & 0x8000) << "x bits " << std::hex << bits[i];
      ASSERT_EQ(rounded[i] & 0x7F80, 0x7F80) << "x bits " << std::hex << bits[i];
      ASSERT_NE(rounded[i] & 0x7F, 0) << "x bits " << std::hex << bits[i];
    }
    ASSERT_EQ(rounded[i], want) << "x bits " << std::hex << bits[i];
    ASSERT_EQ(cpuRounded[i], want) << "CPU build, x bits " << std::hex << bits[i];
  }
  for (uint32_t b = 0; b < every.size(); ++b) {
    const uint32_t want = b << 16;
    uint32_t got;
    std::memcpy(&got, &widened[b], 4);
    ASSERT_EQ(got, want) << "bfloat16 bits " << std::hex << b;
  }
  for (size_t i = 0; i < finite.size(); ++i) {
    const uint32_t wide = uint32_t{finite[i]} << 16;
    float v;
    std::memcpy(&v, &wide, 4);
    ASSERT_EQ(summed[i], 0.25f + v) << "bfloat16 bits " << std::hex << finite[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Forms, GpuFormKernels,
                         ::testing::Values(
#if defined(LOCUS_HAVE_CUDA)
                             Form{"fmnist-cuda", true},
#endif
                             Form{"fmnist-tiled", false}),
                         [](const ::testing::TestParamInfo<Form> &info) {
                           return std::string(info.param.device ? "cuda" : "cpu_tiled");
                         });

} // namespace
} // namespace locus
