//===- StepProgramTest.cpp - the step program of a linked model ---------===//
//
// The unit-test binary links examples/fmnist.onnxtxt compiled by locusc
// (CLAPP++, its conv + relu + max-pool left unfused) like a training binary:
// its record (abi/Model.h), descriptor and step program. Every optimizer's
// step applies exactly the gradients the program forms, features come in
// chunks of a step's views, and a step runs in the arena alone.
//
//===----------------------------------------------------------------------===//
#include "EngineTestUtil.h"

#include "locus/runtime/abi/StepCalls.h"
#include "locus/runtime/backend/cpu/CompiledKernels.h"

#include <cstring>
#include <map>
#include <string_view>

namespace locus::test {
namespace {

using rt::train::Engine;
using rt::train::EngineOptions;
using rt::train::OptimizerKind;
using rt::train::Tensor;

const abi::ModelRecord &record() { return rt::cpu::linkedModel(); }

rt::ModelDesc linkedModel() {
  rt::ModelDesc model;
  std::string error;
  EXPECT_TRUE(rt::readModel(record(), model, error)) << error;
  return model;
}

std::unique_ptr<Engine> makeLinkedEngine(const rt::ModelDesc &model, OptimizerKind kind,
                                         bool bf16 = false) {
  EngineOptions options;
  options.seed = 5;
  rt::train::CompiledModel compiled = rt::train::compiledModelOf(record());
  options.kernels = compiled.kernels;
  options.program = compiled.program;
  options.kind = kind;
  options.optimizer.lr = 1e-3;
  options.sgd.lr = 0.01;
  options.schedule.base = kind == OptimizerKind::AdamW ? 1e-3 : 0.01;
  if (bf16)
    options.moments = rt::cpu::MomentFormat::BFloat16;
  std::unique_ptr<Engine> engine;
  rt::Status status = Engine::create(model, options, engine);
  EXPECT_TRUE(status.isOk()) << status.message();
  return engine;
}

TEST(StepProgram, TheLinkedModelHasOne) {
  ASSERT_EQ(record().version, abi::kModelRecordVersion);
  ASSERT_TRUE(record().program);
  const abi::StepProgram &p = *record().program;
  EXPECT_EQ(p.version, abi::kStepProgramVersion);
  EXPECT_GT(p.trainFusedArenaBytes, 0);
  EXPECT_GE(p.trainArenaBytes, p.evaluateArenaBytes); // training keeps more alive
  EXPECT_EQ(p.trainFusedArenaBytes % 64, 0);
}

TEST(StepProgram, SgdAndLarsStepsApplyTheProgramsGradients) {
  // The unfused program hands each complete gradient to the optimizer once,
  // after every gradient that reads the old parameters is formed: a step
  // equals gradients() followed by the optimizer on each, bit for bit.
  rt::ModelDesc model = linkedModel();
  for (OptimizerKind kind : {OptimizerKind::Sgd, OptimizerKind::Lars}) {
    SCOPED_TRACE(kind == OptimizerKind::Sgd ? "sgd" : "lars");
    std::unique_ptr<Engine> a = makeLinkedEngine(model, kind), b = makeLinkedEngine(model, kind);
    ASSERT_TRUE(a && b);
    Tensor views = randomViews(*a, 100);
    std::map<int32_t, std::vector<float>> grads;
    std::vector<double> la, lb;
    ASSERT_TRUE(a->gradients(views, [&](int32_t i, const Tensor &g) {
                   grads[i].assign(g.data(), g.data() + g.count());
                 }, la).isOk());
    ASSERT_TRUE(b->step(views, lb).isOk());
    EXPECT_EQ(la, lb);
    ASSERT_EQ(grads.size(), model.params.size()); // every parameter is trained
    rt::cpu::SgdMomentum sgd;
    sgd.lr = 0.01;
    sgd.lars = kind == OptimizerKind::Lars;
    for (auto &[i, g] : grads) {
      std::vector<float> expected(a->params()[i].data(),
                                  a->params()[i].data() + a->params()[i].count());
      std::vector<float> momentum(expected.size(), 0.0f);
      a->backend().sgdStep(sgd, static_cast<int64_t>(expected.size()), expected.data(), g.data(),
                           momentum.data(), model.params[i].shape.size() > 1);
      EXPECT_EQ(0, std::memcmp(expected.data(), b->params()[i].data(),
                               sizeof(float) * expected.size()))
          << model.params[i].name;
    }
  }
}

TEST(StepProgram, EvaluationIsRepeatableAndUpdatesNothing) {
  rt::ModelDesc model = linkedModel();
  std::unique_ptr<Engine> engine = makeLinkedEngine(model, OptimizerKind::AdamW, true);
  ASSERT_TRUE(engine);
  Tensor views = randomViews(*engine, 7);
  std::vector<double> a, b, c;
  ASSERT_TRUE(engine->evaluate(views, a, 3).isOk());
  ASSERT_TRUE(engine->evaluate(views, b, 3).isOk());
  EXPECT_EQ(a, b);
  ASSERT_TRUE(engine->step(views, c).isOk());
  EXPECT_EQ(a, c) << "the first step's losses are the parameters' before any update";
}

TEST(StepProgram, FeaturesComeInChunksOfAStepsViews) {
  rt::ModelDesc model = linkedModel();
  std::unique_ptr<Engine> engine = makeLinkedEngine(model, OptimizerKind::AdamW);
  ASSERT_TRUE(engine);
  // More images than a step's views, and not a multiple of them: the last
  // chunk is padded. Each image's features are its own, wherever it sits.
  const rt::Shape4 vs = engine->viewShape();
  const int64_t n = vs.n + 5, image = vs.c * vs.h * vs.w, f = engine->featureCount();
  Tensor images = Tensor::allocate(engine->memoryHandle(), rt::Shape4{n, vs.c, vs.h, vs.w});
  rt::train::Rng rng(3);
  for (int64_t i = 0; i < images.count(); ++i)
    images.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
  std::vector<float> all(static_cast<size_t>(n * f), -1.0f), last(5 * f, -2.0f);
  ASSERT_TRUE(engine->features(images, all.data()).isOk());
  Tensor tail = Tensor::allocate(engine->memoryHandle(), rt::Shape4{5, vs.c, vs.h, vs.w});
  std::memcpy(tail.data(), images.data() + vs.n * image, sizeof(float) * 5 * image);
  ASSERT_TRUE(engine->features(tail, last.data()).isOk());
  EXPECT_EQ(0, std::memcmp(all.data() + vs.n * f, last.data(), sizeof(float) * last.size()));
  bool nonZero = false;
  for (float v : all)
    nonZero |= v != 0.0f;
  EXPECT_TRUE(nonZero);
}

TEST(StepProgram, AStepAllocatesNothingBesideTheArena) {
  rt::ModelDesc model = linkedModel();
  std::unique_ptr<Engine> made = makeLinkedEngine(model, OptimizerKind::AdamW);
  ASSERT_TRUE(made);
  Engine &engine = *made;
  Tensor views = randomViews(engine, 1);
  std::vector<double> losses;
  const int64_t resident = engine.memory().tracked(); // the arena is allocated at create
  engine.memory().resetPeak();
  ASSERT_TRUE(engine.step(views, losses).isOk());
  ASSERT_TRUE(engine.step(views, losses).isOk());
  EXPECT_EQ(engine.memory().tracked(), resident);
  // The peak of the steps is the resident bytes (parameters, state, views,
  // the arena) and the convolutions' workspace: no tensor was made.
  EXPECT_EQ(engine.memory().peak(), resident + engine.memory().peakExternal());
  EXPECT_EQ(engine.plannedArenaBytes(), record().program->trainFusedArenaBytes);
}

} // namespace
} // namespace locus::test
