//===- TrainScheduleTest.cpp - learning-rate schedules, SGD and LARS ------===//
#include "CompiledTables.h"

#include "locus/runtime/backend/cpu/Sgd.h"
#include "locus/runtime/train/Schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace locus::rt;

TEST(TrainSchedule, ConstantIsTheBase) {
  train::LrSchedule s;
  s.base = 0.3;
  EXPECT_DOUBLE_EQ(s.at(0), 0.3);
  EXPECT_DOUBLE_EQ(s.at(1000), 0.3);
}

TEST(TrainSchedule, CosineWarmsUpThenDecaysToTheMinimum) {
  train::LrSchedule s;
  s.kind = train::LrSchedule::Kind::Cosine;
  s.base = 0.6;
  s.min = 1e-5;
  s.warmupSteps = 5;
  s.totalSteps = 105;
  EXPECT_DOUBLE_EQ(s.at(0), 0.6 / 5);
  EXPECT_DOUBLE_EQ(s.at(4), 0.6);
  EXPECT_DOUBLE_EQ(s.at(5), 0.6);                               // cos(0)
  EXPECT_NEAR(s.at(55), 1e-5 + 0.5 * (0.6 - 1e-5), 1e-12);       // half way
  EXPECT_NEAR(s.at(105), 1e-5, 1e-12);                           // the end
  for (int64_t t = 6; t <= 105; ++t)
    EXPECT_LE(s.at(t), s.at(t - 1)) << "step " << t;
}

TEST(CpuSgd, MomentumAndWeightDecayMatchPyTorch) {
  cpu::SgdMomentum sgd;
  sgd.lr = 0.1;
  sgd.momentum = 0.9;
  sgd.weightDecay = 0.01;
  std::vector<float> p = {1.0f, -2.0f}, g = {0.5f, 0.25f}, buf = {0.0f, 0.0f};
  double p0 = 1.0, b0 = 0.0;
  for (int step = 0; step < 3; ++step) {
    sgdStep(locus::test::compiledUpdates(), sgd, 2, p.data(), g.data(), buf.data(), /*adapt=*/true);
    double gd = 0.5 + 0.01 * p0; // torch.optim.SGD: d_p = g + wd p; buf = m buf + d_p
    b0 = 0.9 * b0 + gd;
    p0 -= 0.1 * b0;
    EXPECT_NEAR(p[0], p0, 1e-6);
    EXPECT_NEAR(buf[0], b0, 1e-6);
  }
}

TEST(CpuSgd, LarsScalesByTheTrustRatio) {
  cpu::SgdMomentum lars;
  lars.lars = true;
  lars.lr = 1.0;
  lars.momentum = 0.0;
  lars.trust = 1e-3;
  std::vector<float> p = {3.0f, 4.0f}, g = {0.0f, 2.0f}, buf = {0.0f, 0.0f};
  // ||p|| = 5, ||g|| = 2: the step is lr * trust * 5 / 2 * g.
  sgdStep(locus::test::compiledUpdates(), lars, 2, p.data(), g.data(), buf.data(), /*adapt=*/true);
  EXPECT_NEAR(p[0], 3.0, 1e-7);
  EXPECT_NEAR(p[1], 4.0 - 1e-3 * 2.5 * 2.0, 1e-6);
  // A bias (adapt = false) gets the plain step.
  std::vector<float> b = {1.0f}, gb = {0.5f}, bb = {0.0f};
  sgdStep(locus::test::compiledUpdates(), lars, 1, b.data(), gb.data(), bb.data(), /*adapt=*/false);
  EXPECT_NEAR(b[0], 0.5, 1e-7);
}
