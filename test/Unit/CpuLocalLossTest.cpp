// The generated loss kernels (run alone: LossKernelHarness.h; METHOD.md sections 1-2) against float64 reference implementations
// written independently here, and their gradients against central finite differences of the
// float64 reference loss. Hinge inputs are checked to keep every margin far from its kink.
#include "locus/runtime/abi/LossKernels.h"
#include "locus/runtime/backend/cpu/Kernels.h"
#include "LossKernelHarness.h"
#include "locus/runtime/backend/cpu/Optimizer.h"

#include "CompiledTables.h"
#include "NumericTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace locus::rt::cpu;
using namespace locus::test;

namespace {

using locus::test::relError; // the overloads below add to it

// A bilinear term as the compiler describes it (the dialect's loss
// attribute): the references below read its math, the runtime only the name
// of its generated kernel (as the step program passes it).
enum class LossFunction { Hinge, Softplus, Linear, Logistic, InfoNCE };
enum class Negatives { Next, Random, Hybrid, Roll };
struct Term {
  LossFunction f = LossFunction::Hinge;
  bool differenceForm = false;
  double theta = 0.0;
  double weight = 1.0;
  Negatives negatives = Negatives::Next;
  std::string kernel = name();

  std::string name() const {
    static const char *const functions[] = {"hinge", "softplus", "linear", "logistic", "infonce"};
    static const char *const negativeRows[] = {"next", "random", "hybrid", "roll"};
    return locus::abi::bilinearLossKernelName(functions[static_cast<int>(f)],
                                              differenceForm ? "difference" : "contrastive",
                                              negativeRows[static_cast<int>(negatives)]);
  }
  /// The runtime's view: the kernel's name and the scalars.
  operator BilinearLossConfig() const {
    BilinearLossConfig cfg;
    cfg.kernel = kernel;
    cfg.theta = theta;
    cfg.weight = weight;
    cfg.randomNegatives = negatives == Negatives::Random;
    return cfg;
  }
};

/// The goodness kernels, named as the step program names them.
const std::string kForwardForward = locus::abi::goodnessLossKernelName("sum_squares");
const std::string kScff = locus::abi::goodnessLossKernelName("mean_relu_squares");





double relError(double got, double ref) {
  if (!std::isfinite(got))
    return std::numeric_limits<double>::infinity();
  return std::fabs(got - ref) / std::max(std::fabs(ref), 1e-30);
}

#define EXPECT_REL(got, ref, tol) EXPECT_LE(relError(got, ref), tol) << #got " vs " #ref " "

/// Central differences of f at x, every coordinate.
Vec finiteDifferences(const std::function<double(const Vec &)> &f, Vec x, double eps) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + eps;
    const double fp = f(x);
    x[i] = x0 - eps;
    const double fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2.0 * eps);
  }
  return g;
}

double softplusRef(double x) { return std::log(1.0 + std::exp(x)); }
double sigmoidRef(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// --- the bilinear rules -------------------------------------------------------------------------

struct Problem {
  int64_t n, d, dc;
  std::vector<float> z, c, proj;
  std::vector<int32_t> neg; // random negatives (row indices into z)
};

/// Rows of the reference: other view and negative of row r.
int64_t posOf(const Problem &p, int64_t r) { return (r + p.n / 2) % p.n; }
int64_t negOf(const Term &cfg, const Problem &p, int64_t r) {
  return cfg.negatives == Negatives::Next ? (posOf(p, r) + 1) % p.n : p.neg[r];
}

/// u_pos[r], u_neg[r] in float64 from (z, c, B) given as doubles.
void refScores(const Term &cfg, const Problem &p, const Vec &z, const Vec &c,
               const Vec &b, Vec &uPos, Vec &uNeg, Vec &bc) {
  bc.assign(static_cast<size_t>(p.n * p.d), 0.0);
  uPos.assign(p.n, 0.0);
  uNeg.assign(p.n, 0.0);
  for (int64_t r = 0; r < p.n; ++r) {
    for (int64_t i = 0; i < p.d; ++i)
      for (int64_t j = 0; j < p.dc; ++j)
        bc[r * p.d + i] += b[i * p.dc + j] * c[r * p.dc + j];
    for (int64_t i = 0; i < p.d; ++i) {
      uPos[r] += z[posOf(p, r) * p.d + i] * bc[r * p.d + i];
      uNeg[r] += z[negOf(cfg, p, r) * p.d + i] * bc[r * p.d + i];
    }
  }
}

/// The per-row loss, written from the header's table.
double refRowLoss(const Term &cfg, double up, double un) {
  const double th = cfg.theta;
  if (cfg.differenceForm) {
    const double u = up - un;
    switch (cfg.f) {
    case LossFunction::Hinge: return std::max(0.0, 1.0 - u);
    case LossFunction::Softplus: return softplusRef(th - u);
    case LossFunction::Linear: return -u;
    case LossFunction::Logistic: return std::log(1.0 + std::exp(th * (un - up)));
    default: return std::numeric_limits<double>::quiet_NaN();
    }
  }
  switch (cfg.f) {
  case LossFunction::Hinge: return std::max(0.0, 1.0 - up) + std::max(0.0, 1.0 + un);
  case LossFunction::Softplus: return softplusRef(th - up) + softplusRef(un - th);
  case LossFunction::Linear: return -up + un;
  case LossFunction::Logistic: return std::log(1.0 + std::exp(-th * up)) + std::log(1.0 + std::exp(th * un));
  default: return std::numeric_limits<double>::quiet_NaN();
  }
}

/// d(row loss)/du_pos and d/du_neg, by hand.
void refRowGrad(const Term &cfg, double up, double un, double &gp, double &gn) {
  const double th = cfg.theta;
  if (cfg.differenceForm) {
    const double u = up - un;
    double g = 0.0;
    switch (cfg.f) {
    case LossFunction::Hinge: g = u < 1.0 ? -1.0 : 0.0; break;
    case LossFunction::Softplus: g = -sigmoidRef(th - u); break;
    case LossFunction::Linear: g = -1.0; break;
    case LossFunction::Logistic: g = -th * sigmoidRef(th * (un - up)); break;
    default: break;
    }
    gp = g;
    gn = -g;
    return;
  }
  switch (cfg.f) {
  case LossFunction::Hinge:
    gp = up < 1.0 ? -1.0 : 0.0;
    gn = un > -1.0 ? 1.0 : 0.0;
    break;
  case LossFunction::Softplus:
    gp = -sigmoidRef(th - up);
    gn = sigmoidRef(un - th);
    break;
  case LossFunction::Linear:
    gp = -1.0;
    gn = 1.0;
    break;
  case LossFunction::Logistic:
    gp = -th * sigmoidRef(-th * up);
    gn = th * sigmoidRef(th * un);
    break;
  default: break;
  }
}

double refBilinearLoss(const Term &cfg, const Problem &p, const Vec &z,
                       const Vec &c, const Vec &b) {
  Vec up, un, bc;
  refScores(cfg, p, z, c, b, up, un, bc);
  double total = 0.0;
  for (int64_t r = 0; r < p.n; ++r)
    total += refRowLoss(cfg, up[r], un[r]);
  return cfg.weight * total / static_cast<double>(p.n);
}

/// dL/dz and dL/dB with METHOD.md's formulas: for next-index negatives
/// dL/dz_pos[s] = g_pos[s] B c[s] + g_neg[s-1] B c[s-1], and dz[q] = dL/dz_pos[(q+B) mod N].
void refBilinearGrad(const Term &cfg, const Problem &p, const Vec &z, const Vec &c,
                     const Vec &b, Vec &dz, Vec &db) {
  Vec up, un, bc;
  refScores(cfg, p, z, c, b, up, un, bc);
  const int64_t n = p.n, d = p.d;
  Vec gp(n), gn(n);
  for (int64_t r = 0; r < n; ++r) {
    refRowGrad(cfg, up[r], un[r], gp[r], gn[r]);
    gp[r] *= cfg.weight / n;
    gn[r] *= cfg.weight / n;
  }
  dz.assign(static_cast<size_t>(n * d), 0.0);
  if (cfg.negatives == Negatives::Next) {
    for (int64_t q = 0; q < n; ++q) {
      const int64_t s = (q + n / 2) % n, s1 = (s - 1 + n) % n;
      for (int64_t i = 0; i < d; ++i)
        dz[q * d + i] = gp[s] * bc[s * d + i] + gn[s1] * bc[s1 * d + i];
    }
  } else {
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < d; ++i) {
        dz[posOf(p, r) * d + i] += gp[r] * bc[r * d + i];
        dz[p.neg[r] * d + i] += gn[r] * bc[r * d + i];
      }
  }
  db.assign(static_cast<size_t>(d * p.dc), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) {
      const double a = gp[r] * z[posOf(p, r) * d + i] + gn[r] * z[negOf(cfg, p, r) * d + i];
      for (int64_t j = 0; j < p.dc; ++j)
        db[i * p.dc + j] += a * c[r * p.dc + j];
    }
}

Problem makeProblem(int64_t n, int64_t d, int64_t dc, uint32_t seed, float projScale) {
  Problem p{n, d, dc, randomVector(n * d, seed), randomVector(n * dc, seed + 1),
            randomVector(d * dc, seed + 2, -projScale, projScale), {}};
  std::mt19937 rng(seed + 3);
  for (int64_t r = 0; r < n; ++r) {
    int32_t k;
    do
      k = static_cast<int32_t>(rng() % n);
    while (k == r || k == posOf(p, r));
    p.neg.push_back(k);
  }
  return p;
}

/// Distance of the closest hinge margin to its kink (infinite for smooth losses).
double kinkDistance(const Term &cfg, const Problem &p, int &active, int &inactive) {
  if (cfg.f != LossFunction::Hinge)
    return std::numeric_limits<double>::infinity();
  Vec up, un, bc;
  refScores(cfg, p, toDouble(p.z), toDouble(p.c), toDouble(p.proj), up, un, bc);
  double dist = std::numeric_limits<double>::infinity();
  active = inactive = 0;
  for (int64_t r = 0; r < p.n; ++r) {
    const double m[2] = {cfg.differenceForm ? 1.0 - (up[r] - un[r]) : 1.0 - up[r],
                         cfg.differenceForm ? 1.0 - (up[r] - un[r]) : 1.0 + un[r]};
    for (double v : m) {
      dist = std::min(dist, std::fabs(v));
      (v > 0 ? active : inactive)++;
    }
  }
  return dist;
}

struct LossCase {
  Term cfg;
  int64_t n, d, dc;
  std::string name;
};

Term config(LossFunction f, bool diff, double theta, Negatives neg, double weight = 1.0) {
  Term c;
  c.f = f;
  c.differenceForm = diff;
  c.theta = theta;
  c.negatives = neg;
  c.weight = weight;
  c.kernel = c.name();
  return c;
}

std::vector<LossCase> lossCases() {
  using F = LossFunction;
  using N = Negatives;
  return {
      {config(F::Hinge, false, 0, N::Next), 8, 12, 12, "hinge_next_lateral"},
      {config(F::Hinge, false, 0, N::Next), 10, 12, 7, "hinge_next_dfb"},
      {config(F::Hinge, false, 0, N::Random), 8, 9, 11, "hinge_random"},
      {config(F::Hinge, false, 0, N::Next, 0.5), 6, 5, 5, "hinge_weighted"},
      {config(F::Hinge, true, 0, N::Next), 8, 12, 12, "hinge_difference"},
      {config(F::Softplus, false, 0.5, N::Next), 8, 12, 9, "softplus_next"},
      {config(F::Softplus, false, -0.3, N::Random), 8, 7, 12, "softplus_random"},
      {config(F::Linear, false, 0, N::Next), 6, 8, 8, "linear_next"},
      {config(F::Linear, false, 0, N::Random), 6, 8, 5, "linear_random"},
      {config(F::Logistic, true, 2.0, N::Next), 8, 12, 12, "phyll_logistic_next"},
      {config(F::Logistic, true, 1.5, N::Random), 8, 10, 6, "phyll_logistic_random"},
      {config(F::Logistic, false, 1.2, N::Next), 8, 6, 6, "logistic_contrastive"},
      {config(F::Softplus, true, 0.7, N::Next), 6, 6, 4, "softplus_difference"},
      // Odd sizes through every tail of the register-blocked kernels (rows % 6, cols % 16,
      // D % 3, Dc % 8, N % 4).
      {config(F::Hinge, false, 0, N::Next), 10, 37, 53, "hinge_odd_blocked_shapes"},
      {config(F::Softplus, false, 0.1, N::Random), 14, 41, 70, "softplus_random_blocked_shapes"},
  };
}

void PrintTo(const LossCase &k, std::ostream *os) { *os << k.name; }

class CpuBilinearLoss : public ::testing::TestWithParam<LossCase> {};

/// A problem whose hinge margins are all well away from the kink, with both active and inactive
/// terms (deterministic: the first seed that qualifies).
Problem problemFor(const LossCase &k) {
  for (uint32_t seed = 1; seed < 200; ++seed) {
    Problem p = makeProblem(k.n, k.d, k.dc, 1000 * seed, 0.9f);
    int active = 0, inactive = 0;
    const double dist = kinkDistance(k.cfg, p, active, inactive);
    if (dist > 0.02 && (k.cfg.f != LossFunction::Hinge || (active > 1 && inactive > 1)))
      return p;
  }
  ADD_FAILURE() << "no seed gives hinge margins away from the kink";
  return makeProblem(k.n, k.d, k.dc, 1, 0.9f);
}

TEST_P(CpuBilinearLoss, LossAndGradientsMatchReference) {
  const LossCase k = GetParam();
  const Problem p = problemFor(k);
  std::vector<float> dz(p.z.size(), kNaN), db(p.proj.size(), kNaN);
  const double loss = bilinearLoss(compiledLosses(), k.cfg, p.n, p.d, p.dc, p.z.data(), p.c.data(), p.proj.data(),
                                   p.neg.data(), dz.data(), db.data(), false);
  const Vec z = toDouble(p.z), c = toDouble(p.c), b = toDouble(p.proj);
  EXPECT_REL(loss, refBilinearLoss(k.cfg, p, z, c, b), 1e-5);
  Vec dzRef, dbRef;
  refBilinearGrad(k.cfg, p, z, c, b, dzRef, dbRef);
  EXPECT_REL(dz, dzRef, 1e-5);
  EXPECT_REL(db, dbRef, 1e-5);
}

TEST_P(CpuBilinearLoss, GradientsMatchFiniteDifferences) {
  const LossCase k = GetParam();
  const Problem p = problemFor(k);
  std::vector<float> dz(p.z.size(), kNaN), db(p.proj.size(), kNaN);
  bilinearLoss(compiledLosses(), k.cfg, p.n, p.d, p.dc, p.z.data(), p.c.data(), p.proj.data(), p.neg.data(),
               dz.data(), db.data(), false);
  const Vec z = toDouble(p.z), c = toDouble(p.c), b = toDouble(p.proj);
  // eps moves a score by at most eps * |B c|_1 < 1e-4, far below the 0.02 kink margin.
  const double eps = 1e-6;
  const Vec fdZ = finiteDifferences(
      [&](const Vec &zz) { return refBilinearLoss(k.cfg, p, zz, c, b); }, z, eps);
  const Vec fdB = finiteDifferences(
      [&](const Vec &bb) { return refBilinearLoss(k.cfg, p, z, c, bb); }, b, eps);
  EXPECT_REL(dz, fdZ, 1e-4);
  EXPECT_REL(db, fdB, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Cpu, CpuBilinearLoss, ::testing::ValuesIn(lossCases()),
                         [](const auto &info) { return info.param.name; });

TEST(CpuBilinearLoss, RandomNegativesEqualNextWhenTheyPointAtTheNextRow) {
  Problem p = makeProblem(8, 6, 6, 77, 0.9f);
  for (int64_t r = 0; r < p.n; ++r)
    p.neg[r] = static_cast<int32_t>((posOf(p, r) + 1) % p.n);
  std::vector<float> dz1(p.z.size()), db1(p.proj.size()), dz2(p.z.size()), db2(p.proj.size());
  const double l1 = bilinearLoss(compiledLosses(), config(LossFunction::Softplus, false, 0.2, Negatives::Next), p.n,
                                 p.d, p.dc, p.z.data(), p.c.data(), p.proj.data(), nullptr,
                                 dz1.data(), db1.data(), false);
  const double l2 = bilinearLoss(compiledLosses(), config(LossFunction::Softplus, false, 0.2, Negatives::Random),
                                 p.n, p.d, p.dc, p.z.data(), p.c.data(), p.proj.data(),
                                 p.neg.data(), dz2.data(), db2.data(), false);
  EXPECT_DOUBLE_EQ(l1, l2);
  EXPECT_EQ(dz1, dz2);
  EXPECT_EQ(db1, db2);
}

TEST(CpuBilinearLoss, BothIsTwoAccumulatedCalls) {
  // CLAPP++both: L = L_DFB(z, c_top, B_fb) + L_lat(z, z', B_lat), one dz, two projections.
  const Term cfg = config(LossFunction::Hinge, false, 0, Negatives::Next);
  const LossCase fbCase{cfg, 8, 10, 6, "fb"}, latCase{cfg, 8, 10, 10, "lat"};
  Problem fb = problemFor(fbCase), lat = problemFor(latCase);
  lat.z = fb.z; // the same block output feeds both terms
  lat.c = fb.z; // lateral context: the block's own pooled output
  int active = 0, inactive = 0;
  ASSERT_GT(kinkDistance(cfg, lat, active, inactive), 1e-3);

  std::vector<float> dz(fb.z.size(), kNaN), dbFb(fb.proj.size(), kNaN),
      dbLat(lat.proj.size(), kNaN);
  const double l1 = bilinearLoss(compiledLosses(), cfg, fb.n, fb.d, fb.dc, fb.z.data(), fb.c.data(), fb.proj.data(),
                                 nullptr, dz.data(), dbFb.data(), false);
  const double l2 = bilinearLoss(compiledLosses(), cfg, lat.n, lat.d, lat.dc, lat.z.data(), lat.c.data(),
                                 lat.proj.data(), nullptr, dz.data(), dbLat.data(),
                                 /*accumulateDz=*/true, /*accumulateDProj=*/false);
  Vec dzFb, dbFbRef, dzLat, dbLatRef;
  refBilinearGrad(cfg, fb, toDouble(fb.z), toDouble(fb.c), toDouble(fb.proj), dzFb, dbFbRef);
  refBilinearGrad(cfg, lat, toDouble(lat.z), toDouble(lat.c), toDouble(lat.proj), dzLat, dbLatRef);
  Vec dzSum(dzFb.size());
  for (size_t i = 0; i < dzSum.size(); ++i)
    dzSum[i] = dzFb[i] + dzLat[i];
  EXPECT_REL(l1 + l2,
             refBilinearLoss(cfg, fb, toDouble(fb.z), toDouble(fb.c), toDouble(fb.proj)) +
                 refBilinearLoss(cfg, lat, toDouble(lat.z), toDouble(lat.c), toDouble(lat.proj)),
             1e-5);
  EXPECT_REL(dz, dzSum, 1e-5);
  EXPECT_REL(dbFb, dbFbRef, 1e-5);
  EXPECT_REL(dbLat, dbLatRef, 1e-5);

  // The single-flag form accumulates both outputs onto what they hold.
  std::vector<float> dz2(dz.size(), 1.0f), db2(dbLat.size(), 2.0f);
  bilinearLoss(compiledLosses(), cfg, lat.n, lat.d, lat.dc, lat.z.data(), lat.c.data(), lat.proj.data(), nullptr,
               dz2.data(), db2.data(), true);
  Vec dzExp(dzLat), dbExp(dbLatRef);
  for (double &v : dzExp)
    v += 1.0;
  for (double &v : dbExp)
    v += 2.0;
  EXPECT_REL(dz2, dzExp, 1e-6);
  EXPECT_REL(db2, dbExp, 1e-6);
}

TEST(CpuBilinearLoss, NullProjectionGradientIsSkipped) {
  const Problem p = makeProblem(6, 5, 4, 5, 0.9f);
  std::vector<float> dz(p.z.size(), kNaN), dzRef(p.z.size(), kNaN), db(p.proj.size());
  const Term cfg = config(LossFunction::Softplus, false, 0.0, Negatives::Next);
  bilinearLoss(compiledLosses(), cfg, p.n, p.d, p.dc, p.z.data(), p.c.data(), p.proj.data(), nullptr, dz.data(),
               nullptr, false);
  bilinearLoss(compiledLosses(), cfg, p.n, p.d, p.dc, p.z.data(), p.c.data(), p.proj.data(), nullptr, dzRef.data(),
               db.data(), false);
  EXPECT_EQ(dz, dzRef);
}

TEST(CpuBilinearLoss, UnsupportedConfigurationsReturnNaN) {
  const Problem p = makeProblem(4, 3, 3, 9, 0.9f);
  std::vector<float> dz(p.z.size(), 5.0f), db(p.proj.size(), 5.0f);
  for (const Term &cfg :
       {config(LossFunction::Hinge, false, 0, Negatives::Hybrid),
        config(LossFunction::Hinge, false, 0, Negatives::Roll),
        config(LossFunction::InfoNCE, false, 0, Negatives::Next),
        config(LossFunction::Hinge, false, 0, Negatives::Random)}) {
    EXPECT_TRUE(std::isnan(bilinearLoss(compiledLosses(), cfg, p.n, p.d, p.dc, p.z.data(), p.c.data(),
                                        p.proj.data(), nullptr, dz.data(), db.data(), false)));
  }
  EXPECT_EQ(dz, std::vector<float>(dz.size(), 5.0f));
  EXPECT_EQ(db, std::vector<float>(db.size(), 5.0f));
}

TEST(CpuBilinearLoss, LargeShapeMatchesReference) {
  // The GEMM paths at a size OpenBLAS threads (D = Dc = 512, N = 32); one FD-free reference check.
  const LossCase k{config(LossFunction::Hinge, false, 0, Negatives::Next), 32, 512, 512, "large"};
  const Problem p = makeProblem(k.n, k.d, k.dc, 4242, 0.004f);
  std::vector<float> dz(p.z.size(), kNaN), db(p.proj.size(), kNaN);
  const double loss = bilinearLoss(compiledLosses(), k.cfg, p.n, p.d, p.dc, p.z.data(), p.c.data(), p.proj.data(),
                                   nullptr, dz.data(), db.data(), false);
  const Vec z = toDouble(p.z), c = toDouble(p.c), b = toDouble(p.proj);
  int active = 0, inactive = 0;
  ASSERT_GT(kinkDistance(k.cfg, p, active, inactive), 1e-4);
  EXPECT_REL(loss, refBilinearLoss(k.cfg, p, z, c, b), 1e-5);
  Vec dzRef, dbRef;
  refBilinearGrad(k.cfg, p, z, c, b, dzRef, dbRef);
  EXPECT_REL(dz, dzRef, 1e-5);
  EXPECT_REL(db, dbRef, 1e-5);
}

TEST(CpuBilinearLoss, FactorsGiveTheProjectionGradient) {
  const Term cfg = config(LossFunction::Softplus, false, 0.3, Negatives::Next);
  const Problem p = makeProblem(12, 29, 35, 88, 0.5f);
  std::vector<float> dz(p.z.size(), kNaN), db(p.proj.size(), kNaN), dz2(p.z.size(), kNaN),
      factors(p.z.size(), kNaN);
  const double l1 = bilinearLoss(compiledLosses(), cfg, p.n, p.d, p.dc, p.z.data(), p.c.data(), p.proj.data(),
                                 nullptr, dz.data(), db.data(), false);
  const double l2 = bilinearLossFactors(compiledLosses(), cfg, p.n, p.d, p.dc, p.z.data(), p.c.data(),
                                        p.proj.data(), nullptr, dz2.data(), factors.data(), false);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(dz, dz2);
  Vec fromFactors(static_cast<size_t>(p.d * p.dc), 0.0);
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t i = 0; i < p.d; ++i)
      for (int64_t j = 0; j < p.dc; ++j)
        fromFactors[i * p.dc + j] += static_cast<double>(factors[r * p.d + i]) * p.c[r * p.dc + j];
  EXPECT_REL(db, fromFactors, 1e-5);
}

TEST(CpuAdamWOuterProduct, MatchesGradientThenStep) {
  // Sizes that cross the kernels' row tasks (96), column chunks (512) and tiles (6 x 16).
  struct Size {
    int64_t rows, cols, k;
  };
  for (const Size sz : {Size{37, 53, 10}, Size{100, 1100, 6}, Size{7, 5, 3}}) {
    for (double wd : {0.0, 0.01}) {
      AdamW opt;
      opt.lr = 1e-2;
      opt.weightDecay = wd;
      const int64_t count = sz.rows * sz.cols;
      auto p1 = randomVector(count, 5);
      auto p2 = p1;
      std::vector<float> m1(count, 0.0f), v1(count, 0.0f), m2(count, 0.0f), v2(count, 0.0f),
          g(count);
      for (int64_t t = 1; t <= 3; ++t) {
        const auto a = randomVector(sz.k * sz.rows, 10 + static_cast<uint32_t>(t));
        const auto b = randomVector(sz.k * sz.cols, 20 + static_cast<uint32_t>(t));
        gemm(true, false, sz.rows, sz.cols, sz.k, 1.0f, a.data(), b.data(), 0.0f, g.data());
        adamwStep(compiledUpdates(), opt, t, count, p1.data(), g.data(), m1.data(), v1.data());
        adamwStepOuterProduct(opt, t, sz.rows, sz.cols, sz.k, a.data(), b.data(), p2.data(), m2.data(),
                             v2.data());
      }
      EXPECT_REL(p2, toDouble(p1), 1e-6) << sz.rows << "x" << sz.cols << " wd " << wd;
      EXPECT_REL(m2, toDouble(m1), 1e-5);
      EXPECT_REL(v2, toDouble(v1), 1e-5);
    }
  }
}

// --- Forward-Forward ----------------------------------------------------------------------------

double refFF(double theta, int64_t m, int64_t f, const Vec &yp, const Vec &yn) {
  double total = 0.0;
  for (int64_t r = 0; r < m; ++r) {
    double gp = 0.0, gn = 0.0;
    for (int64_t i = 0; i < f; ++i) {
      gp += yp[r * f + i] * yp[r * f + i];
      gn += yn[r * f + i] * yn[r * f + i];
    }
    total += softplusRef(theta - gp) + softplusRef(gn - theta);
  }
  return total / m;
}

TEST(CpuForwardForward, LossGradientsAndFiniteDifferences) {
  const int64_t m = 5, f = 13;
  const double theta = 3.0;
  const auto yp = randomVector(m * f, 31), yn = randomVector(m * f, 32);
  std::vector<float> dp(yp.size(), kNaN), dn(yn.size(), kNaN);
  const double loss = goodnessLoss(compiledLosses(), kForwardForward, theta, 0.0, 0.0, 1.0, m, f, 1, yp.data(), yn.data(), dp.data(), dn.data());
  const Vec p = toDouble(yp), n = toDouble(yn);
  EXPECT_REL(loss, refFF(theta, m, f, p, n), 1e-6);
  // Analytic: dL/dy = (2 y / m) * (-sigmoid(theta - G_pos) | sigmoid(G_neg - theta)).
  Vec dpRef(p.size()), dnRef(n.size());
  for (int64_t r = 0; r < m; ++r) {
    double gp = 0.0, gn = 0.0;
    for (int64_t i = 0; i < f; ++i) {
      gp += p[r * f + i] * p[r * f + i];
      gn += n[r * f + i] * n[r * f + i];
    }
    for (int64_t i = 0; i < f; ++i) {
      dpRef[r * f + i] = -sigmoidRef(theta - gp) * 2.0 * p[r * f + i] / m;
      dnRef[r * f + i] = sigmoidRef(gn - theta) * 2.0 * n[r * f + i] / m;
    }
  }
  EXPECT_REL(dp, dpRef, 1e-5);
  EXPECT_REL(dn, dnRef, 1e-5);
  EXPECT_REL(dp, finiteDifferences([&](const Vec &v) { return refFF(theta, m, f, v, n); }, p, 1e-6),
             1e-4);
  EXPECT_REL(dn, finiteDifferences([&](const Vec &v) { return refFF(theta, m, f, p, v); }, n, 1e-6),
             1e-4);
}

// --- SCFF ---------------------------------------------------------------------------------------

double refScff(double th1, double th2, double lambda, int64_t m, int64_t c, int64_t hw,
               const Vec &ap, const Vec &an) {
  double sp = 0.0, reg = 0.0;
  for (int64_t s = 0; s < m; ++s) {
    double norm2 = 0.0;
    for (int64_t l = 0; l < hw; ++l) {
      double gp = 0.0, gn = 0.0;
      for (int64_t ch = 0; ch < c; ++ch) {
        const double vp = std::max(0.0, ap[(s * c + ch) * hw + l]);
        const double vn = std::max(0.0, an[(s * c + ch) * hw + l]);
        gp += vp * vp / c;
        gn += vn * vn / c;
      }
      sp += softplusRef(th1 - gp) + softplusRef(gn - th2);
      norm2 += gp * gp;
    }
    reg += std::sqrt(norm2);
  }
  return sp / (m * hw) + lambda * reg / m;
}

/// Random values at least 0.05 away from relu's kink.
std::vector<float> awayFromZero(int64_t n, uint32_t seed) {
  auto v = randomVector(n, seed);
  for (float &x : v)
    x = x >= 0 ? 0.05f + x : -0.05f + x;
  return v;
}

TEST(CpuScff, LossAndFiniteDifferences) {
  const int64_t m = 3, c = 4, hw = 6;
  const double th1 = 0.4, th2 = 0.6, lambda = 0.3;
  const auto ap = awayFromZero(m * c * hw, 41), an = awayFromZero(m * c * hw, 42);
  std::vector<float> dp(ap.size(), kNaN), dn(an.size(), kNaN);
  const double loss =
      goodnessLoss(compiledLosses(), kScff, th1, th2, lambda, 1.0, m, c, hw, ap.data(), an.data(), dp.data(), dn.data());
  const Vec p = toDouble(ap), n = toDouble(an);
  EXPECT_REL(loss, refScff(th1, th2, lambda, m, c, hw, p, n), 1e-6);
  // eps (1e-6) is far below the 0.05 distance to relu's kink.
  EXPECT_REL(dp,
             finiteDifferences(
                 [&](const Vec &v) { return refScff(th1, th2, lambda, m, c, hw, v, n); }, p, 1e-6),
             1e-4);
  EXPECT_REL(dn,
             finiteDifferences(
                 [&](const Vec &v) { return refScff(th1, th2, lambda, m, c, hw, p, v); }, n, 1e-6),
             1e-4);
  for (size_t i = 0; i < ap.size(); ++i) {
    if (ap[i] < 0) {
      EXPECT_EQ(dp[i], 0.0f);
    }
    if (an[i] < 0) {
      EXPECT_EQ(dn[i], 0.0f);
    }
  }
}

// --- InfoNCE ------------------------------------------------------------------------------------

double refInfoNce(double temperature, int64_t n, int64_t d, const Vec &p) {
  Vec norm(n, 0.0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < d; ++i)
      norm[r] += p[r * d + i] * p[r * d + i];
    norm[r] = std::sqrt(norm[r]);
  }
  auto cosine = [&](int64_t a, int64_t b) {
    double s = 0.0;
    for (int64_t i = 0; i < d; ++i)
      s += p[a * d + i] * p[b * d + i];
    return s / (norm[a] * norm[b]);
  };
  double total = 0.0;
  for (int64_t r = 0; r < n; ++r) {
    double denom = 0.0;
    for (int64_t j = 0; j < n; ++j)
      if (j != r)
        denom += std::exp(cosine(r, j) / temperature);
    total += -std::log(std::exp(cosine(r, (r + n / 2) % n) / temperature) / denom);
  }
  return total / n;
}

TEST(CpuInfoNce, LossAndFiniteDifferences) {
  for (const auto &[n, d, t] : {std::tuple<int64_t, int64_t, double>{8, 6, 0.1},
                                std::tuple<int64_t, int64_t, double>{6, 17, 0.5}}) {
    const auto pf = randomVector(n * d, 51 + static_cast<uint32_t>(d));
    std::vector<float> dp(pf.size(), kNaN);
    const double loss = infoNceLoss(compiledLosses(), t, n, d, pf.data(), dp.data());
    const Vec p = toDouble(pf);
    EXPECT_REL(loss, refInfoNce(t, n, d, p), 1e-5);
    EXPECT_REL(dp, finiteDifferences([&](const Vec &v) { return refInfoNce(t, n, d, v); }, p, 1e-6),
               1e-4);
  }
}

TEST(CpuInfoNce, ScaleInvariant) {
  // Cosine similarity: scaling a row leaves the loss unchanged; its gradient scales by 1/s.
  const int64_t n = 6, d = 5;
  auto p = randomVector(n * d, 61);
  std::vector<float> g1(p.size()), g2(p.size());
  const double l1 = infoNceLoss(compiledLosses(), 0.1, n, d, p.data(), g1.data());
  for (int64_t i = 0; i < d; ++i)
    p[2 * d + i] *= 4.0f;
  const double l2 = infoNceLoss(compiledLosses(), 0.1, n, d, p.data(), g2.data());
  EXPECT_NEAR(l1, l2, 1e-5 * std::fabs(l1));
  for (int64_t i = 0; i < d; ++i)
    EXPECT_NEAR(g2[2 * d + i] * 4.0f, g1[2 * d + i], 1e-5);
}

} // namespace
