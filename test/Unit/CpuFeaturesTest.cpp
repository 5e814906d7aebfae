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
