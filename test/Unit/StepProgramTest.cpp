//===- StepProgramTest.cpp - the generated step program against the engine ===//
//
// The unit-test binary links examples/fmnist.onnxtxt compiled by locusc
// (CLAPP++, its conv + relu + max-pool left unfused): its descriptor and its
// step program. The program must train exactly as the engine interprets the
// same descriptor (every optimizer, gradient checks, evaluation), and run
// its step in the arena alone.
//
//===----------------------------------------------------------------------===//
#include "EngineTestUtil.h"

#include "locus/runtime/abi/StepCalls.h"
#include "locus/runtime/backend/cpu/CompiledKernels.h"

#include <cstring>
#include <map>
#include <string_view>

extern "C" {
extern const unsigned char locus_model_blob[];
extern const unsigned long long locus_model_blob_size;
extern const locus::abi::StepProgram locus_step_programs[];
extern const int64_t locus_step_program_count;
}

namespace locus::test {
namespace {

using rt::train::Engine;
using rt::train::EngineOptions;
using rt::train::OptimizerKind;
using rt::train::Tensor;

rt::ModelDesc linkedModel() {
  rt::ModelDesc model;
  std::string error;
  EXPECT_TRUE(rt::parse(std::string_view(reinterpret_cast<const char *>(locus_model_blob),
                                         locus_model_blob_size),
                        model, error))
      << error;
  return model;
}

/// Two engines on the linked model: the step program's and the interpreter's.
struct Pair {
  std::unique_ptr<Engine> program, engine;
};

Pair makePair(const rt::ModelDesc &model, OptimizerKind kind, bool bf16 = false) {
  Pair pair;
  for (bool withProgram : {true, false}) {
    EngineOptions options;
    options.seed = 5;
    options.kernels = rt::cpu::compiledModelKernels();
    options.kind = kind;
    options.optimizer.lr = 1e-3;
    options.sgd.lr = 0.01;
    options.schedule.base = kind == OptimizerKind::AdamW ? 1e-3 : 0.01;
    if (bf16)
      options.moments = rt::cpu::MomentFormat::BFloat16;
    options.program = withProgram ? &locus_step_programs[0] : nullptr;
    std::unique_ptr<Engine> engine;
    rt::Status status = Engine::create(model, options, engine);
    EXPECT_TRUE(status.isOk()) << status.message();
    (withProgram ? pair.program : pair.engine) = std::move(engine);
  }
  return pair;
}

void expectSameParameters(Engine &a, Engine &b) {
  ASSERT_EQ(a.params().size(), b.params().size());
  for (size_t i = 0; i < a.params().size(); ++i)
    EXPECT_EQ(0, std::memcmp(a.params()[i].data(), b.params()[i].data(),
                             sizeof(float) * a.params()[i].count()))
        << "parameter " << a.model().params[i].name;
}

TEST(StepProgram, TheLinkedModelHasOne) {
  ASSERT_EQ(locus_step_program_count, 1);
  const abi::StepProgram &p = locus_step_programs[0];
  EXPECT_EQ(p.version, abi::kStepProgramVersion);
  EXPECT_GT(p.trainFusedArenaBytes, 0);
  EXPECT_GE(p.trainArenaBytes, p.evaluateArenaBytes); // training keeps more alive
  EXPECT_EQ(p.trainFusedArenaBytes % 64, 0);
}

TEST(StepProgram, TrainsExactlyAsTheEngineWithEveryOptimizer) {
  ASSERT_EQ(locus_step_program_count, 1);
  rt::ModelDesc model = linkedModel();
  struct Case {
    OptimizerKind kind;
    bool bf16;
    const char *name;
  };
  for (Case c : {Case{OptimizerKind::AdamW, false, "adamw"},
                 Case{OptimizerKind::AdamW, true, "adamw bf16"},
                 Case{OptimizerKind::Sgd, false, "sgd"}, Case{OptimizerKind::Lars, false, "lars"}}) {
    SCOPED_TRACE(c.name);
    Pair pair = makePair(model, c.kind, c.bf16);
    ASSERT_TRUE(pair.program && pair.engine);
    for (uint64_t step = 0; step < 2; ++step) {
      Tensor views = randomViews(*pair.engine, 100 + step);
      std::vector<double> a, b;
      ASSERT_TRUE(pair.program->step(views, a).isOk());
      ASSERT_TRUE(pair.engine->step(views, b).isOk());
      ASSERT_EQ(a.size(), b.size());
      for (size_t l = 0; l < a.size(); ++l)
        EXPECT_EQ(a[l], b[l]) << "block " << l << ", step " << step;
    }
    expectSameParameters(*pair.program, *pair.engine);
    Tensor heldOut = randomViews(*pair.engine, 7);
    std::vector<double> a, b;
    ASSERT_TRUE(pair.program->evaluate(heldOut, a, 3).isOk());
    ASSERT_TRUE(pair.engine->evaluate(heldOut, b, 3).isOk());
    EXPECT_EQ(a, b);
  }
}

TEST(StepProgram, GradientsEqualTheEngines) {
  ASSERT_EQ(locus_step_program_count, 1);
  rt::ModelDesc model = linkedModel();
  Pair pair = makePair(model, OptimizerKind::AdamW);
  ASSERT_TRUE(pair.program && pair.engine);
  Tensor views = randomViews(*pair.engine, 11);
  using Gradients = std::map<int32_t, std::vector<float>>;
  auto gradientsOf = [&](Engine &engine, Gradients &out, std::vector<double> &losses) {
    return engine
        .gradients(
            views,
            [&](int32_t i, const Tensor &g) { out[i].assign(g.data(), g.data() + g.count()); },
            losses)
        .isOk();
  };
  Gradients a, b;
  std::vector<double> la, lb;
  ASSERT_TRUE(gradientsOf(*pair.program, a, la));
  ASSERT_TRUE(gradientsOf(*pair.engine, b, lb));
  EXPECT_EQ(la, lb);
  ASSERT_EQ(a.size(), model.params.size()); // every parameter is trained
  EXPECT_EQ(a, b);
  expectSameParameters(*pair.program, *pair.engine); // and none was updated
}

TEST(StepProgram, FeaturesEqualTheEngines) {
  ASSERT_EQ(locus_step_program_count, 1);
  rt::ModelDesc model = linkedModel();
  Pair pair = makePair(model, OptimizerKind::AdamW);
  ASSERT_TRUE(pair.program && pair.engine);
  // More images than a step's views, and not a multiple of them: the last
  // chunk is padded.
  const rt::Shape4 vs = pair.engine->viewShape();
  Tensor images = Tensor::allocate(pair.engine->memoryHandle(),
                                   rt::Shape4{vs.n + 5, vs.c, vs.h, vs.w});
  rt::train::Rng rng(3);
  for (int64_t i = 0; i < images.count(); ++i)
    images.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
  const int64_t f = pair.engine->featureCount();
  std::vector<float> a(static_cast<size_t>(images.shape().n * f), -1.0f), b(a.size(), -2.0f);
  ASSERT_TRUE(pair.program->features(images, a.data()).isOk());
  ASSERT_TRUE(pair.engine->features(images, b.data()).isOk());
  EXPECT_EQ(a, b);
}

TEST(StepProgram, AStepAllocatesNothingBesideTheArena) {
  ASSERT_EQ(locus_step_program_count, 1);
  rt::ModelDesc model = linkedModel();
  Pair pair = makePair(model, OptimizerKind::AdamW);
  ASSERT_TRUE(pair.program);
  Engine &engine = *pair.program;
  Tensor views = randomViews(engine, 1);
  std::vector<double> losses;
  ASSERT_TRUE(engine.step(views, losses).isOk()); // the arena is allocated here
  const int64_t resident = engine.memory().tracked();
  engine.memory().resetPeak();
  ASSERT_TRUE(engine.step(views, losses).isOk());
  EXPECT_EQ(engine.memory().tracked(), resident);
  // The peak of the second step is the resident bytes (parameters, state,
  // views, the arena) and the convolutions' workspace: no tensor was made.
  EXPECT_EQ(engine.memory().peak(), resident + engine.memory().peakExternal());
  EXPECT_EQ(engine.plannedArenaBytes(), locus_step_programs[0].trainFusedArenaBytes);
}

} // namespace
} // namespace locus::test
