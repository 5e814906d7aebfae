#include "locus/runtime/train/Options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <string_view>

namespace locus::rt::train {

namespace {

Status parseInt(std::string_view option, const std::string &text, int64_t min, int64_t &out) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE)
    return Status::error(fmt::format("{} {}: expected an integer", option, text));
  if (v < min)
    return Status::error(fmt::format("{} {}: must be at least {}", option, text, min));
  out = v;
  return Status::success();
}

Status parseDouble(std::string_view option, const std::string &text, double &out) {
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < 0)
    return Status::error(fmt::format("{} {}: expected a non-negative number", option, text));
  out = v;
  return Status::success();
}

} // namespace

Status parseOptions(int argc, const char *const *argv, Options &out) {
  out = Options{};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg == "--eval-only") {
      out.evalOnly = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0)
      return Status::error(fmt::format("unexpected argument '{}' (options start with --)", arg));
    // Both "--opt value" and "--opt=value".
    size_t eq = arg.find('=');
    bool inlineValue = eq != std::string::npos;
    std::string name = inlineValue ? arg.substr(0, eq) : arg;
    auto next = [&]() -> Status {
      if (inlineValue) {
        value = arg.substr(eq + 1);
        return Status::success();
      }
      if (i + 1 >= argc)
        return Status::error(fmt::format("{} needs a value", name));
      value = argv[++i];
      return Status::success();
    };
    int64_t n = 0;
    if (name == "--data") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseDataSpec(value, out.data));
      out.dataGiven = true;
    } else if (name == "--epochs") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, out.epochs));
    } else if (name == "--max-steps") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, out.maxSteps));
    } else if (name == "--batch-size") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 1, out.batchSize));
    } else if (name == "--lr") {
      LOCUS_RETURN_IF_ERROR(next());
      double lr = 0;
      LOCUS_RETURN_IF_ERROR(parseDouble(name, value, lr));
      out.lr = lr;
    } else if (name == "--weight-decay") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseDouble(name, value, out.weightDecay));
    } else if (name == "--optimizer") {
      LOCUS_RETURN_IF_ERROR(next());
      if (value != "adamw" && value != "sgd" && value != "lars")
        return Status::error(
            fmt::format("--optimizer {}: expected adamw, sgd or lars", value));
      out.optimizer = value;
    } else if (name == "--optimizer-state") {
      LOCUS_RETURN_IF_ERROR(next());
      if (value != "float32" && value != "bfloat16")
        return Status::error(
            fmt::format("--optimizer-state {}: expected float32 or bfloat16", value));
      out.optimizerState = value;
    } else if (name == "--momentum") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseDouble(name, value, out.momentum));
    } else if (name == "--lars-trust") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseDouble(name, value, out.larsTrust));
    } else if (name == "--schedule") {
      LOCUS_RETURN_IF_ERROR(next());
      if (value != "constant" && value != "cosine")
        return Status::error(
            fmt::format("--schedule {}: expected constant or cosine", value));
      out.schedule = value;
    } else if (name == "--warmup-steps") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, out.warmupSteps));
    } else if (name == "--min-lr") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseDouble(name, value, out.minLr));
    } else if (name == "--seed") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, n));
      out.seed = static_cast<uint64_t>(n);
    } else if (name == "--init" || name == "--save" || name == "--metrics" ||
               name == "--fixed-batch" || name == "--checkpoint" || name == "--resume") {
      LOCUS_RETURN_IF_ERROR(next());
      if (value.empty())
        return Status::error(fmt::format("{} needs a file name", name));
      (name == "--init"         ? out.init
       : name == "--save"       ? out.save
       : name == "--metrics"    ? out.metrics
       : name == "--checkpoint" ? out.checkpoint
       : name == "--resume"     ? out.resume
                                : out.fixedBatch) = value;
    } else if (name == "--on-nonfinite") {
      LOCUS_RETURN_IF_ERROR(next());
      if (value != "stop" && value != "skip")
        return Status::error(fmt::format("--on-nonfinite {}: expected stop or skip", value));
      out.onNonfinite = value;
    } else if (name == "--keep-checkpoints") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 1, out.keepCheckpoints));
    } else if (name == "--checkpoint-every") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 1, out.checkpointEvery));
    } else if (name == "--probe-epochs") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, out.probeEpochs));
    } else if (name == "--probe-train") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 1, out.probeTrain));
    } else if (name == "--probe-test") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 1, out.probeTest));
    } else if (name == "--heldout") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, out.heldOut));
    } else if (name == "--log-every") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 1, out.logEvery));
    } else if (name == "--device") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, out.device));
    } else if (name == "--precision") {
      LOCUS_RETURN_IF_ERROR(next());
      if (value == "bf16")
        return Status::error("--precision bf16: not implemented yet (bfloat16 convolutions with "
                             "float32 master weights are issue 12's next step); use tf32 or fp32");
      if (value != "tf32" && value != "fp32")
        return Status::error(fmt::format("--precision {}: expected tf32 or fp32", value));
      out.precision = value;
    } else {
      return Status::error(fmt::format("unknown option '{}'", name));
    }
  }
  if (out.evalOnly && (out.checkpointEvery > 0 || !out.checkpoint.empty() || !out.save.empty()))
    return Status::error("--eval-only trains nothing: --save and --checkpoint have nothing new to "
                         "write");
  if (out.checkpointEvery > 0 && out.checkpoint.empty())
    return Status::error("--checkpoint-every needs --checkpoint FILE (where to write them)");
  if (!out.init.empty() && !out.resume.empty())
    return Status::error("--init and --resume: --resume restores the weights itself");
  if (out.optimizerState == "bfloat16" && out.optimizer != "adamw")
    return Status::error(fmt::format("--optimizer-state bfloat16 applies to adamw's moments; "
                                     "--optimizer {} keeps its momentum in float32",
                                     out.optimizer));
  return Status::success();
}

std::string helpText(const std::string &program, const std::string &modelLine) {
  std::string text = fmt::format("usage: {} [options]\n", program);
  if (!modelLine.empty())
    text += modelLine + "\n";
  text += R"(
Trains the compiled model with its local learning rules, block by block, on
the CPU or, for a model compiled with locusc --target=cuda, on one NVIDIA GPU;
then reports the held-out local losses and a linear probe.

Data and training:
  --data KIND[:ARG]     fashion-mnist:DIR (default fashion-mnist:/usr/share/datasets/fashion-mnist,
                        IDX files, gzip or not), cifar10:DIR (CIFAR-10's binary version:
                        data_batch_1..5.bin, test_batch.bin), cifar100:DIR (train.bin,
                        test.bin; the 100 fine classes), stl10:DIR (STL-10's binary
                        version; pretraining on unlabeled + train, the probe on train/test) or
                        synthetic[:COUNT] (COUNT random training images, default 4096)
  --epochs N            passes over the training images (default 1)
  --max-steps N         stop after N steps in total (default: no limit)
  --batch-size N        images per step; must equal the compiled views / 2 (default: that)
  --optimizer NAME      adamw (default), sgd (with momentum) or lars (SGD with LARS trust ratios)
  --optimizer-state F   adamw's two moments in float32 (default, as PyTorch) or bfloat16 with
                        stochastic rounding: half the optimizer state, for large projections
  --lr X                base learning rate (default 2e-4 for adamw, 0.1 for sgd and lars)
  --weight-decay X      weight decay (default 0; decoupled for adamw)
  --momentum X          SGD/LARS momentum (default 0.9)
  --lars-trust X        LARS trust coefficient (default 1e-3)
  --schedule NAME       constant (default) or cosine: linear warm-up over --warmup-steps, then
                        cosine decay to --min-lr at the last step
  --seed N              initialisation, views, shuffling and random negatives (default 0)
  --fixed-batch FILE    use one step's views from FILE (raw little-endian float32 [N, C, H, W],
                        already normalised) for every step, without augmentation; one step per
                        epoch unless --max-steps is given
Checkpoints:
  --init FILE           start from the parameters in a safetensors file (names and shapes must
                        match the model; AdamW state starts fresh)
  --save FILE           write the trained parameters as safetensors (temporary file + rename)
  --checkpoint FILE     write the whole training state (weights, optimizer state, step) to FILE
                        every --checkpoint-every N steps and at the last step (temporary file,
                        fsync, rename: a crash leaves the previous one whole)
  --keep-checkpoints K  keep the K newest (default 1): FILE is the newest, the older ones stay as
                        FILE.step<N>
  --resume FILE         continue the run that wrote FILE (same model, optimizer, seed, batch and
                        step options): it ends bit for bit as the uninterrupted run would have
  --on-nonfinite WHAT   a block's loss is NaN or infinite: stop (default: name the step, the block
                        and the last good checkpoint, exit 1) or skip (say so and go on; no
                        checkpoint is written at that step)
Evaluation:
  --eval-only           no training: the held-out losses and the probe of the weights --init or
                        --resume loads (the initial ones without either)
  --heldout N           each block's local loss on views of the first N test images, before and
                        after training (fixed augmentation seed; default 512; 0 skips it)
  --probe-epochs N      linear-probe epochs (default 10; 0 skips the probe)
  --probe-train N       probe training images (default: the whole training split)
  --probe-test N        probe test images (default: the whole test split)
                        The probe's features are computed once, from un-augmented images,
                        standardised per feature with the training statistics, and reused
                        every epoch (the paper augments them per epoch and does not scale them).
GPU (models compiled with --target=cuda):
  --device N            the CUDA device to train on (default 0)
  --precision P         tf32 (default: TF32 tensor cores in the convolutions and GEMMs, as
                        PyTorch's convolutions) or fp32 (full float32)
Output:
  --metrics FILE        JSON lines: {"type":"step"|"epoch"|"heldout"|"probe"|"memory"|"run",...}
  --log-every N         progress on stderr every N steps (default 50)
  --help                this text

Views: RandomResizedCrop (scale 0.25-1, ratio 3/4-4/3, bilinear) and horizontal flip (p 0.5) of
each image, twice, then normalisation. Exit status: 0 done, 1 runtime error, 2 bad options.
)";
  return text;
}

} // namespace locus::rt::train
