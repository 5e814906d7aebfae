//===- TestModels.h - the unit tests' compiled test models -------*- C++ -*-===//
//
// test/Unit/Models/*.onnxtxt, compiled by locusc at build time into one
// shared library each (test/Unit/CMakeLists.txt: locus_add_test_model). A
// test loads one by name and gets what a training binary gets from its
// object: the model, the step program and the kernel tables, all from
// the library's one exported record (abi/Model.h). Each library is loaded
// once and stays loaded for the test binary's life.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_UNIT_TESTMODELS_H
#define LOCUS_TEST_UNIT_TESTMODELS_H

#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/abi/Model.h"
#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <string>

namespace locus::test {

class TestModel {
public:
  /// The model `name` (a locus_add_test_model name), loaded on first use; a
  /// library that cannot be loaded or read stops the test binary, naming it.
  static const TestModel &get(const std::string &name) {
    static std::map<std::string, std::unique_ptr<TestModel>> loaded;
    std::unique_ptr<TestModel> &model = loaded[name];
    if (!model)
      model.reset(new TestModel(name));
    return *model;
  }

  const rt::ModelDesc &desc() const { return desc_; }
  const abi::ModelRecord &record() const { return *record_; }
  const abi::StepProgram &program() const { return *record_->program; }
  rt::train::CompiledModel compiled() const { return rt::train::compiledModelOf(*record_); }

  /// Engine options that run this model's program and kernels.
  rt::train::EngineOptions engineOptions(uint64_t seed = 1) const {
    rt::train::EngineOptions options;
    options.seed = seed;
    rt::train::CompiledModel c = compiled();
    options.kernels = c.kernels;
    options.program = c.program;
    return options;
  }

private:
  explicit TestModel(const std::string &name) {
    // LOCUS_TEST_MODEL_DIR in the environment: the models moved with the
    // binary (scripts/gpu-check.sh runs them on another machine).
    const char *dir = std::getenv("LOCUS_TEST_MODEL_DIR");
    std::string path = std::string(dir ? dir : LOCUS_TEST_MODEL_DIR) + "/" + name + ".so";
    void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library)
      fail(path, dlerror());
    record_ = static_cast<const abi::ModelRecord *>(dlsym(library, abi::kModelSymbol));
    if (!record_)
      fail(path, "no locus_model record");
    if (record_->version == abi::kModelRecordVersion && !record_->program)
      fail(path, "a model record without a step program");
    std::string error;
    if (!rt::readModel(*record_, desc_, error))
      fail(path, error);
  }

  [[noreturn]] static void fail(const std::string &path, const std::string &why) {
    fprintf(stderr, "test model %s: %s\n", path.c_str(), why.c_str());
    std::abort();
  }

  const abi::ModelRecord *record_ = nullptr;
  rt::ModelDesc desc_;
};

/// An engine for test model `name`, or null (and a failed expectation).
inline std::unique_ptr<rt::train::Engine> makeEngine(const TestModel &model, uint64_t seed = 1) {
  std::unique_ptr<rt::train::Engine> engine;
  rt::Status status = rt::train::Engine::create(model.desc(), model.engineOptions(seed), engine);
  EXPECT_TRUE(status.isOk()) << status.message();
  return engine;
}

} // namespace locus::test

#endif
