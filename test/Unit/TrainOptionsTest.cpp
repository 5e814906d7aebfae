// The training binary's command line: every option, both spellings, and the errors (exit 2).
#include "locus/runtime/train/Options.h"
#include "locus/runtime/train/Trainer.h"

#include <gtest/gtest.h>

namespace {

using namespace locus::rt;
using namespace locus::rt::train;

Status parse(std::vector<const char *> args, Options &out) {
  args.insert(args.begin(), "train");
  return parseOptions(static_cast<int>(args.size()), args.data(), out);
}

TEST(TrainOptions, Defaults) {
  Options o;
  ASSERT_TRUE(parse({}, o).isOk());
  EXPECT_EQ(o.data.kind, "fashion-mnist");
  EXPECT_EQ(o.data.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(o.epochs, 1);
  EXPECT_EQ(o.maxSteps, -1);
  EXPECT_FALSE(o.lr.has_value());
  EXPECT_EQ(o.probeEpochs, 10);
  EXPECT_EQ(o.optimizerState, "float32");
  EXPECT_FALSE(o.help);
}

TEST(TrainOptions, EveryOption) {
  Options o;
  Status s = parse({"--data", "synthetic:64", "--epochs=3", "--max-steps", "7", "--batch-size",
                    "32", "--lr", "1e-3", "--weight-decay", "1e-5", "--seed", "9", "--init", "a",
                    "--save", "b", "--metrics", "m.jsonl", "--fixed-batch", "f.bin",
                    "--probe-epochs", "2", "--probe-train", "100", "--probe-test", "50",
                    "--heldout", "0", "--log-every", "5", "--optimizer-state", "bfloat16"},
                   o);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(o.data.kind, "synthetic");
  EXPECT_EQ(o.data.count, 64);
  EXPECT_EQ(o.epochs, 3);
  EXPECT_EQ(o.maxSteps, 7);
  EXPECT_EQ(o.batchSize, 32);
  EXPECT_DOUBLE_EQ(*o.lr, 1e-3);
  EXPECT_DOUBLE_EQ(o.weightDecay, 1e-5);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_EQ(o.init, "a");
  EXPECT_EQ(o.save, "b");
  EXPECT_EQ(o.metrics, "m.jsonl");
  EXPECT_EQ(o.fixedBatch, "f.bin");
  EXPECT_EQ(o.probeEpochs, 2);
  EXPECT_EQ(o.probeTrain, 100);
  EXPECT_EQ(o.probeTest, 50);
  EXPECT_EQ(o.heldOut, 0);
  EXPECT_EQ(o.logEvery, 5);
  EXPECT_EQ(o.optimizerState, "bfloat16");
  ASSERT_TRUE(parse({"--help"}, o).isOk());
  EXPECT_TRUE(o.help);
}

TEST(TrainOptions, PresetsComeFirstAndAreOverridden) {
  Options o;
  // The preset's options apply before every other option, wherever --preset stands.
  Status s = parse({"--lr", "1e-3", "--preset", "stl10", "--workers", "3", "--blur-p", "0"}, o);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(o.preset, "stl10");
  EXPECT_DOUBLE_EQ(*o.lr, 1e-3);
  EXPECT_EQ(o.epochs, 300);
  EXPECT_EQ(o.optimizer, "adamw");
  EXPECT_EQ(o.workers, 3);
  // The view options in order: the preset's, then the user's.
  ASSERT_GE(o.viewOptions.size(), 3u);
  EXPECT_EQ(o.viewOptions.front(), (std::pair<std::string, std::string>{"--views", "simclr"}));
  EXPECT_EQ(o.viewOptions.back(), (std::pair<std::string, std::string>{"--blur-p", "0"}));
  ASSERT_TRUE(parse({"--preset=imagenet"}, o).isOk());
  EXPECT_EQ(o.optimizer, "lars");
  EXPECT_EQ(o.schedule, "cosine");
  EXPECT_EQ(o.warmupEpochs, 5);
  EXPECT_DOUBLE_EQ(o.weightDecay, 1e-4);
  ASSERT_TRUE(parse({"--block-lr", "block1=1e-3,head=0"}, o).isOk());
  EXPECT_EQ(o.blockLr, (std::vector<std::pair<std::string, double>>{{"block1", 1e-3}, {"head", 0}}));
  ASSERT_TRUE(parse({"--preset", "tiny-imagenet"}, o).isOk());
  EXPECT_DOUBLE_EQ(o.weightDecay, 1e-5);
}

TEST(TrainOptions, ErrorsSayWhat) {
  struct Case {
    std::vector<const char *> args;
    const char *message;
  } cases[] = {
      {{"--epochs", "two"}, "--epochs two: expected an integer"},
      {{"--epochs", "-1"}, "must be at least 0"},
      {{"--log-every", "0"}, "must be at least 1"},
      {{"--lr", "fast"}, "--lr fast: expected a non-negative number"},
      {{"--seed"}, "--seed needs a value"},
      {{"--frobnicate"}, "unknown option '--frobnicate'"},
      {{"stray"}, "unexpected argument 'stray'"},
      {{"--data", "imagenet:/d"}, "unknown data set 'imagenet'"},
      {{"--data", "stl10"}, "--data stl10 needs the directory it is in: --data stl10:DIR"},
      {{"--data", "folder"}, "--data folder:ROOT"},
      {{"--preset", "mnist2"}, "--preset mnist2: expected cifar10"},
      {{"--workers", "-2"}, "--workers -2: must be at least 0"},
      {{"--crop-scale", "0.9,0.1"}, "--crop-scale 0.9,0.1: expected LO,HI"},
      {{"--blur-kernel", "6"}, "--blur-kernel 6: expected an odd size"},
      {{"--jitter", "1,1,1,0.9"}, "--jitter"},
      {{"--block-lr", "block1"}, "--block-lr block1: expected BLOCK=LR"},
      {{"--block-lr", "block1=-1"}, "--block-lr block1=-1: expected BLOCK=LR"},
      {{"--optimizer-state", "fp8"}, "--optimizer-state fp8: expected float32 or bfloat16"},
      {{"--optimizer-state", "bfloat16", "--optimizer", "sgd"},
       "--optimizer-state bfloat16 applies to adamw's moments; --optimizer sgd keeps"},
  };
  for (const Case &c : cases) {
    Options o;
    Status s = parse(c.args, o);
    ASSERT_FALSE(s.isOk()) << c.message;
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
  }
}

TEST(TrainOptions, BatchSizeMustMatchTheCompiledViews) {
  ModelDesc model;
  model.inputShape = {64, 1, 28, 28};
  Options o;
  o.batchSize = 32;
  EXPECT_TRUE(checkOptionsForModel(o, model).isOk());
  o.batchSize = 16;
  Status s = checkOptionsForModel(o, model);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("compiled for 32 images per step (64 views)"), std::string::npos)
      << s.message();
}

TEST(TrainOptions, HelpNamesEveryOption) {
  std::string help = helpText("train", "model 'm'");
  for (const char *option : {"--data", "--epochs", "--max-steps", "--batch-size", "--lr",
                             "--seed", "--init", "--save", "--probe-epochs", "--probe-train",
                             "--probe-test", "--metrics", "--fixed-batch", "--log-every",
                             "--heldout", "--optimizer", "--optimizer-state", "--help",
                             "--preset", "--workers", "--views", "--crop-scale", "--jitter",
                             "--grayscale-p", "--blur-p", "--test-resize", "--warmup-epochs"})
    EXPECT_NE(help.find(option), std::string::npos) << option;
  EXPECT_NE(help.find("un-augmented"), std::string::npos);
}

} // namespace
