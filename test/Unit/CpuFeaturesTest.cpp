//===- CpuFeaturesTest.cpp - the binary's check of its kernels' CPU -------===//
#include "locus/runtime/CpuFeatures.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace locus::rt;

TEST(CpuFeatures, NothingRequiredNothingMissing) { EXPECT_TRUE(missingCpuFeatures({}).empty()); }

TEST(CpuFeatures, UnknownNamesCountAsMissing) {
  // A descriptor from a newer compiler may name an extension this runtime
  // cannot check: refusing is safer than an illegal instruction.
  EXPECT_EQ(missingCpuFeatures({"avx1024"}), std::vector<std::string>{"avx1024"});
}

TEST(CpuFeatures, MissingIsASubsetOfRequiredInOrder) {
  const std::vector<std::string> &all = checkedCpuFeatures();
  ASSERT_FALSE(all.empty());
  std::vector<std::string> missing = missingCpuFeatures(all);
  // Every missing name is required, in the required order; every x86-64 CPU
  // this project builds on has at least SSE4.1 (x86-64-v2).
  EXPECT_TRUE(std::includes(all.begin(), all.end(), missing.begin(), missing.end(),
                            [&](const std::string &a, const std::string &b) {
                              return std::find(all.begin(), all.end(), a) <
                                     std::find(all.begin(), all.end(), b);
                            }));
#if defined(__x86_64__)
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "sse4.1"), 0);
#endif
}

} // namespace

#include "backend/cpu/Simd.h"

#include <cstdlib>

namespace {

TEST(CpuSimd, TheEnvironmentCapsTheRuntimesKernels) {
  // LOCUS_CPU_SIMD is read once, when the first kernel asks: each case runs
  // in a fresh child process that sets it first.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  using namespace locus::rt::cpu;
  const bool avx2 = cpuSimdLevel() >= SimdLevel::Avx2;
  // Exit code: 1 if AVX-512 kernels would run, plus 2 if AVX2 ones would.
  auto run = [](const char *value) {
    setenv("LOCUS_CPU_SIMD", value, 1);
    std::exit((useAvx512() ? 1 : 0) + (useAvx2() ? 2 : 0));
  };
  EXPECT_EXIT(run("avx2"), testing::ExitedWithCode(avx2 ? 2 : 0), "");
  EXPECT_EXIT(run("baseline"), testing::ExitedWithCode(0), "");
}

} // namespace
