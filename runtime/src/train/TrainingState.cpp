//===- TrainingState.cpp - a run's whole state, to resume it exactly ------===//
#include "locus/runtime/train/TrainingState.h"

#include "locus/runtime/train/Checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace locus::rt::train {

namespace {

constexpr const char *kFormat = "locus-training-state-1";

/// The optimizer tensors of trained parameter `p`: (name, state index).
std::vector<std::pair<std::string, int>> stateNames(const Engine &engine, size_t p) {
  std::vector<std::pair<std::string, int>> names;
  const std::string &param = engine.model().params[p].name;
  for (int which = 0; which < 2; ++which)
    if (engine.optimizerState(static_cast<int32_t>(p), which).defined())
      names.push_back({(which == 0 ? "optimizer.m." : "optimizer.v.") + param, which});
  return names;
}

bool bf16State(const RunConfig &config) {
  auto it = config.find("optimizer_state");
  return it != config.end() && it->second == "bfloat16";
}

} // namespace

Status saveTrainingState(const std::string &path, Engine &engine, const RunConfig &config,
                         int64_t step) {
  const ModelDesc &model = engine.model();
  const bool bf16 = bf16State(config);
  // Host copies of everything, then one file.
  std::vector<std::vector<float>> host;
  std::vector<NamedArray> arrays;
  auto copy = [&](const Tensor &t, int64_t floats) {
    host.emplace_back(static_cast<size_t>(floats));
    engine.backend().copyToHost(host.back().data(), t.data(), 4 * floats);
    return host.back().data();
  };
  host.reserve(3 * model.params.size());
  for (size_t p = 0; p < model.params.size(); ++p) {
    const ParamDesc &desc = model.params[p];
    arrays.push_back({desc.name, desc.shape, copy(engine.params()[p], desc.count())});
    for (auto [name, which] : stateNames(engine, p)) {
      const Tensor &state = engine.optimizerState(static_cast<int32_t>(p), which);
      const float *data = copy(state, state.count());
      if (bf16)
        arrays.push_back({name, {desc.count()}, nullptr, reinterpret_cast<const uint16_t *>(data)});
      else
        arrays.push_back({name, desc.shape, data});
    }
  }
  std::map<std::string, std::string> metadata = config;
  metadata["producer"] = "locus";
  metadata["format"] = kFormat;
  metadata["step"] = std::to_string(step);
  return writeSafetensors(path, arrays, metadata);
}

Status loadTrainingState(const std::string &path, Engine &engine, const RunConfig &config,
                         int64_t &step) {
  SafetensorsFile file;
  LOCUS_RETURN_IF_ERROR(readSafetensors(path, file));
  auto meta = [&](const std::string &key) {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  if (meta("format") != kFormat)
    return Status::error(fmt::format("{}: not a locus training-state checkpoint (no format '{}'"
                                     " in its metadata; --init reads weights-only files)",
                                     path, kFormat));
  for (const auto &[key, value] : config)
    if (meta(key) != value)
      return Status::error(fmt::format("{}: was written by a run with {} '{}', this run has '{}'",
                                       path, key, meta(key), value));
  char *end = nullptr;
  const std::string stepText = meta("step");
  step = std::strtoll(stepText.c_str(), &end, 10);
  if (stepText.empty() || *end != '\0' || step < 0)
    return Status::error(fmt::format("{}: bad step '{}' in its metadata", path, stepText));

  // Every expected tensor, checked before anything is copied.
  const ModelDesc &model = engine.model();
  const bool bf16 = bf16State(config);
  struct Target {
    const SafetensorsEntry *entry;
    const Tensor *tensor;
    int64_t floats;
  };
  std::vector<Target> targets;
  size_t expected = 0;
  auto expect = [&](const std::string &name, const std::string &dtype,
                    const std::vector<int64_t> &shape, const Tensor &tensor,
                    int64_t floats) -> Status {
    ++expected;
    auto it = file.entries.find(name);
    if (it == file.entries.end())
      return Status::error(fmt::format("{}: missing tensor '{}'", path, name));
    if (it->second.dtype != dtype || it->second.shape != shape)
      return Status::error(fmt::format("{}: tensor '{}' is {} {}, this run needs {} {}", path,
                                       name, it->second.dtype, fmt::join(it->second.shape, "x"),
                                       dtype, fmt::join(shape, "x")));
    targets.push_back({&it->second, &tensor, floats});
    return Status::success();
  };
  for (size_t p = 0; p < model.params.size(); ++p) {
    const ParamDesc &desc = model.params[p];
    LOCUS_RETURN_IF_ERROR(expect(desc.name, "F32", desc.shape, engine.params()[p], desc.count()));
    for (auto [name, which] : stateNames(engine, p)) {
      const Tensor &state = engine.optimizerState(static_cast<int32_t>(p), which);
      if (bf16)
        LOCUS_RETURN_IF_ERROR(expect(name, "BF16", {desc.count()}, state, state.count()));
      else
        LOCUS_RETURN_IF_ERROR(expect(name, "F32", desc.shape, state, state.count()));
    }
  }
  if (file.entries.size() != expected)
    for (const std::string &name : file.names)
      if (std::none_of(targets.begin(), targets.end(),
                       [&](const Target &t) { return t.entry == &file.entries[name]; }))
        return Status::error(fmt::format("{}: tensor '{}' is not part of this run", path, name));

  for (const Target &t : targets) {
    // The file's bytes are little-endian, as the host's (x86-64).
    std::vector<float> host(static_cast<size_t>(t.floats), 0.0f);
    const uint64_t bytes = std::min<uint64_t>(t.entry->end - t.entry->begin, 4 * t.floats);
    std::memcpy(host.data(), file.data.data() + t.entry->begin, static_cast<size_t>(bytes));
    engine.backend().copyToDevice(t.tensor->data(), host.data(), 4 * t.floats);
  }
  engine.setStepsTaken(step);
  return Status::success();
}

Status CheckpointWriter::write(Engine &engine, const RunConfig &config, int64_t step) {
  if (keep_ <= 1) {
    LOCUS_RETURN_IF_ERROR(saveTrainingState(path_, engine, config, step));
  } else {
    const std::string next = path_ + ".next";
    LOCUS_RETURN_IF_ERROR(saveTrainingState(next, engine, config, step));
    // The state it replaces stays as path.step<N> (none before the first
    // one, or where the run resumed from another file).
    const std::string older = fmt::format("{}.step{}", path_, lastStep_);
    if (lastStep_ >= 0 && std::rename(path_.c_str(), older.c_str()) == 0) {
      kept_.push_back(older);
      while (static_cast<int64_t>(kept_.size()) > keep_ - 1) {
        std::remove(kept_.front().c_str());
        kept_.pop_front();
      }
    } else if (lastStep_ >= 0 && errno != ENOENT) {
      return Status::error(
          fmt::format("cannot keep {} as {}: {}", path_, older, std::strerror(errno)));
    }
    if (std::rename(next.c_str(), path_.c_str()) != 0)
      return Status::error(
          fmt::format("cannot rename {} to {}: {}", next, path_, std::strerror(errno)));
  }
  last_ = path_;
  lastStep_ = step;
  return Status::success();
}

} // namespace locus::rt::train
