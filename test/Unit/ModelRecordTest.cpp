//===- ModelRecordTest.cpp - reading a compiled object's model record ----===//
//
// The linked example's record (examples/fmnist.onnxtxt) reads back as the
// model locusc compiled; a record that is damaged or from another locusc is
// refused with the field named, before anything is read through it.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/backend/cpu/CompiledKernels.h"
#include "locus/runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

using locus::abi::BlockRecord;
using locus::abi::ModelRecord;
using locus::abi::ParamRecord;
using namespace locus::rt;

std::string refusal(const ModelRecord &record) {
  ModelDesc model;
  std::string error;
  return readModel(record, model, error) ? std::string("accepted") : error;
}

TEST(ModelRecord, TheLinkedRecordReadsAsTheCompiledModel) {
  ModelDesc model;
  std::string error;
  ASSERT_TRUE(readModel(cpu::linkedModel(), model, error)) << error;
  EXPECT_EQ(model.name, "fmnist");
  EXPECT_EQ(model.inputShape, (std::array<int64_t, 4>{64, 1, 28, 28}));
  ASSERT_EQ(model.params.size(), 6u);
  EXPECT_EQ(model.params[0].name, "conv1_w");
  EXPECT_EQ(model.params[0].shape, (std::vector<int64_t>{128, 1, 3, 3}));
  EXPECT_EQ(model.params[0].fanIn, 9);
  EXPECT_TRUE(model.params[0].trained);
  EXPECT_EQ(model.params[2].name, "block1.B");
  ASSERT_EQ(model.blocks.size(), 2u);
  EXPECT_EQ(model.blocks[1].name, "block2");
  EXPECT_EQ(model.blocks[1].loss.rule, "clapp++");
  EXPECT_EQ(model.blocks[1].loss.dim, 256);
  ASSERT_EQ(model.blocks[1].layers.size(), 2u);
  EXPECT_EQ(model.blocks[1].layers[1].kind, LayerKind::ReluMaxPool2D);
}

TEST(ModelRecord, DamagedRecordsAreRefusedNamingTheField) {
  const ModelRecord &linked = cpu::linkedModel();
  ModelRecord record = linked;
  record.version = linked.version + 1;
  EXPECT_NE(refusal(record).find("relink the model with this locusc"), std::string::npos);

  record = linked;
  record.blockCount = 0;
  EXPECT_NE(refusal(record).find("bad block count 0"), std::string::npos);

  std::vector<ParamRecord> params(linked.params, linked.params + linked.paramCount);
  record = linked;
  record.params = params.data();
  params[1].rank = 7;
  EXPECT_NE(refusal(record).find("parameter 'conv1_b': bad rank 7"), std::string::npos);
  params[1] = linked.params[1];
  params[1].shape[0] = 0;
  EXPECT_NE(refusal(record).find("parameter 'conv1_b': bad shape"), std::string::npos);
  params[1] = linked.params[1];
  params[1].init = 99;
  EXPECT_NE(refusal(record).find("bad initialiser 99"), std::string::npos);
  params[1] = linked.params[1];
  EXPECT_EQ(refusal(record), "accepted");

  std::vector<BlockRecord> blocks(linked.blocks, linked.blocks + linked.blockCount);
  record = linked;
  record.blocks = blocks.data();
  blocks[0].projection = linked.paramCount; // one past the last parameter
  EXPECT_NE(refusal(record).find("block 'block1': a missing projection"), std::string::npos);
  blocks[0] = linked.blocks[0];
  blocks[1].loss.contextBlock = 5;
  EXPECT_NE(refusal(record).find("block 'block2': a missing context block"), std::string::npos);
  blocks[1] = linked.blocks[1];
  blocks[1].loss.rule = nullptr;
  EXPECT_NE(refusal(record).find("block 'block2': a loss field without a value"),
            std::string::npos);
}

// The training binary's main on a record that fails its version check (a model object from
// another locusc): exit status 1 before anything is read through the record, and a message
// naming the file (the binary, argv[0]) and the field.
TEST(ModelRecord, TheBinaryRefusesAnotherVersionNamingItselfAndTheField) {
  ModelRecord record = cpu::linkedModel();
  record.version = cpu::linkedModel().version + 1;
  record.params = nullptr; // never reached
  record.blocks = nullptr;
  std::string program = "/runs/fm-train", data = "--data", spec = "synthetic:8";
  char *argv[] = {program.data(), data.data(), spec.data(), nullptr};
  testing::internal::CaptureStderr();
  int status = locus::rt::train::trainMain(3, argv, record);
  std::string text = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 1);
  EXPECT_NE(text.find("error: /runs/fm-train: the compiled model record: version " +
                      std::to_string(record.version) + ", this runtime reads version " +
                      std::to_string(locus::abi::kModelRecordVersion)),
            std::string::npos)
      << text;
}

} // namespace
