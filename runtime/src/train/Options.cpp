#include "locus/runtime/train/Options.h"

#include "locus/runtime/train/Augment.h"

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

std::vector<std::string> presetOptions(const std::string &name) {
  // METHOD.md §5: AdamW 2e-4, batch 32 images, 300 epochs; the views'
  // crop scale (0.25, 1) on CIFAR, (0.08, 1) elsewhere; STL-10's test
  // transform Resize(105) + CenterCrop(96); Tiny ImageNet's weight decay
  // 1e-5; ImageNet's LARS, cosine with 5 warm-up epochs, 50 epochs.
  const std::vector<std::string> adamw = {"--optimizer", "adamw", "--lr", "2e-4", "--epochs",
                                          "300"};
  auto with = [&](std::vector<std::string> base, std::initializer_list<const char *> more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  if (name == "cifar10" || name == "cifar100")
    return with(adamw, {"--weight-decay", "0", "--views", "simclr", "--crop-scale", "0.25,1"});
  if (name == "stl10")
    return with(adamw, {"--weight-decay", "0", "--views", "simclr", "--crop-scale", "0.08,1",
                        "--test-resize", "105"});
  if (name == "tiny-imagenet")
    return with(adamw, {"--weight-decay", "1e-5", "--views", "simclr", "--crop-scale", "0.08,1"});
  if (name == "imagenet")
    return {"--optimizer", "lars", "--lr", "0.6", "--lars-trust", "1e-3", "--momentum", "0.9",
            "--weight-decay", "1e-4", "--schedule", "cosine", "--warmup-epochs", "5",
            "--min-lr", "1e-5", "--epochs", "50", "--views", "simclr", "--crop-scale", "0.08,1",
            "--test-resize", "256"};
  if (name == "fashion-mnist")
    return with(adamw, {"--weight-decay", "0", "--views", "crop", "--crop-scale", "0.25,1"});
  return {};
}

static Status parseArguments(const std::vector<std::string> &args, Options &out);

Status parseOptions(int argc, const char *const *argv, Options &out) {
  out = Options{};
  // A preset's options go first, wherever --preset stands, so every option
  // the user gives overrides it.
  std::vector<std::string> args, given(argv + 1, argv + argc);
  for (size_t i = 0; i < given.size(); ++i) {
    std::string name = given[i], value;
    if (name.rfind("--preset=", 0) == 0)
      value = name.substr(9);
    else if (name == "--preset" && i + 1 < given.size())
      value = given[++i];
    else if (name == "--preset")
      return Status::error("--preset needs a value");
    else
      continue;
    std::vector<std::string> preset = presetOptions(value);
    if (preset.empty())
      return Status::error(fmt::format("--preset {}: expected cifar10, cifar100, stl10, "
                                       "tiny-imagenet, imagenet or fashion-mnist",
                                       value));
    out.preset = value;
    out.presetArgs = preset;
    args.insert(args.end(), preset.begin(), preset.end());
  }
  for (size_t i = 0; i < given.size(); ++i) {
    if (given[i] == "--preset") {
      ++i;
      continue;
    }
    if (given[i].rfind("--preset=", 0) != 0)
      args.push_back(given[i]);
  }
  std::string preset = out.preset;
  std::vector<std::string> presetArgs = out.presetArgs;
  LOCUS_RETURN_IF_ERROR(parseArguments(args, out));
  out.preset = preset;
  out.presetArgs = presetArgs;
  return Status::success();
}

static Status parseArguments(const std::vector<std::string> &args, Options &out) {
  out = Options{};
  const int argc = static_cast<int>(args.size()) + 1;
  AugmentConfig views; // checks each view option as it comes
  for (int i = 1; i < argc; ++i) {
    std::string arg = args[i - 1], value;
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg == "--eval-only") {
      out.evalOnly = true;
      continue;
    }
    if (arg == "--probe-augment") {
      out.probeAugment = true;
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
      value = args[i++];
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
    } else if (name == "--block-lr") {
      LOCUS_RETURN_IF_ERROR(next());
      out.blockLr.clear();
      std::string rest = value;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string item = rest.substr(0, comma);
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
        const size_t eq = item.find('=');
        double lr = 0;
        if (eq == std::string::npos || eq == 0 ||
            !parseDouble(name, item.substr(eq + 1), lr).isOk())
          return Status::error(fmt::format(
              "--block-lr {}: expected BLOCK=LR[,BLOCK=LR...] with non-negative rates", value));
        out.blockLr.emplace_back(item.substr(0, eq), lr);
      }
      if (out.blockLr.empty())
        return Status::error("--block-lr needs BLOCK=LR[,BLOCK=LR...]");
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
    } else if (isViewOption(name)) {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseViewOption(name, value, views));
      out.viewOptions.emplace_back(name, value);
    } else if (name == "--workers") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, out.workers));
    } else if (name == "--warmup-epochs") {
      LOCUS_RETURN_IF_ERROR(next());
      LOCUS_RETURN_IF_ERROR(parseInt(name, value, 0, out.warmupEpochs));
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
               name == "--fixed-batch" || name == "--checkpoint" || name == "--resume" ||
               name == "--export-onnx" || name == "--features-of" || name == "--features-out") {
      LOCUS_RETURN_IF_ERROR(next());
      if (value.empty())
        return Status::error(fmt::format("{} needs a file name", name));
      (name == "--init"           ? out.init
       : name == "--save"         ? out.save
       : name == "--metrics"      ? out.metrics
       : name == "--checkpoint"   ? out.checkpoint
       : name == "--resume"       ? out.resume
       : name == "--export-onnx"  ? out.exportOnnx
       : name == "--features-of"  ? out.featuresOf
       : name == "--features-out" ? out.featuresOut
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
      if (value != "tf32" && value != "fp32" && value != "bf16")
        return Status::error(fmt::format("--precision {}: expected tf32, fp32 or bf16", value));
      out.precision = value;
    } else {
      return Status::error(fmt::format("unknown option '{}'", name));
    }
  }
  if (out.evalOnly && (out.checkpointEvery > 0 || !out.checkpoint.empty() || !out.save.empty()))
    return Status::error("--eval-only trains nothing: --save and --checkpoint have nothing new to "
                         "write");
  if (out.featuresOf.empty() != out.featuresOut.empty())
    return Status::error("--features-of IN and --features-out OUT go together");
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
  --preset NAME         METHOD.md's protocol for cifar10, cifar100, stl10, tiny-imagenet,
                        imagenet or fashion-mnist (optimizer, lr, weight decay, schedule, epochs,
                        views), printed at the start; options given with it override it
  --data KIND[:ARG]     fashion-mnist:DIR (default fashion-mnist:/usr/share/datasets/fashion-mnist,
                        IDX files, gzip or not), mnist:DIR (the same files), cifar10:DIR (CIFAR-10's binary version:
                        data_batch_1..5.bin, test_batch.bin), cifar100:DIR (train.bin,
                        test.bin; the 100 fine classes), stl10:DIR (STL-10's binary
                        version; pretraining on unlabeled + train, the probe on train/test),
                        folder:ROOT (ROOT/train/<class>/<image> and ROOT/val/<class>/<image>
                        or ROOT/test/..., JPEG or PNG, classes sorted by name; Tiny ImageNet's
                        val/images + val_annotations.txt too; decoded as needed) or
                        synthetic[:COUNT] (COUNT random training images, default 4096)
  --workers N           threads decoding and augmenting the next steps' views while one trains
                        (default 1 on the CPU, up to 4 beside a GPU; 0: on the training thread);
                        the views are the same for any N
  --epochs N            passes over the training images (default 1)
  --max-steps N         stop after N steps in total (default: no limit)
  --batch-size N        images per step; must equal the compiled views / 2 (default: that)
  --optimizer NAME      adamw (default), sgd (with momentum) or lars (SGD with LARS trust ratios)
  --optimizer-state F   adamw's two moments in float32 (default, as PyTorch) or bfloat16 with
                        stochastic rounding: half the optimizer state, for large projections
  --lr X                base learning rate (default 2e-4 for adamw, 0.1 for sgd and lars)
  --block-lr B=X,...    a block's own base learning rate (its convolutions and projections),
                        scheduled as --lr is; other blocks keep --lr
  --weight-decay X      weight decay (default 0; decoupled for adamw)
  --momentum X          SGD/LARS momentum (default 0.9)
  --lars-trust X        LARS trust coefficient (default 1e-3)
  --schedule NAME       constant (default) or cosine: linear warm-up over --warmup-steps, then
                        cosine decay to --min-lr at the last step
  --warmup-epochs N     warm-up of N epochs (added to --warmup-steps)
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
Export:
  --export-onnx FILE    after training, write the encoder as a standard ONNX model (opset 17):
                        input "images" [N, C, H, W] (normalised), output "features" [N, F] (each
                        block's output pooled with its loss kernel, concatenated: the probe's
                        features) and "block_<name>" (each block's map); weights as initializers
  --features-of IN      with --features-out OUT: the features of the float32 images [N, C, H, W]
  --features-out OUT    in IN (little-endian, normalised), written to OUT as float32 [N, F]
Evaluation:
  --eval-only           no training: the held-out losses and the probe of the weights --init or
                        --resume loads (the initial ones without either)
  --heldout N           each block's local loss on views of the first N test images, before and
                        after training (fixed augmentation seed; default 512; 0 skips it)
  --probe-epochs N      linear-probe epochs (default 10; 0 skips the probe)
  --probe-train N       probe training images (default: the whole training split)
  --probe-test N        probe test images (default: the whole test split)
  --probe-augment       the paper's probe: every epoch's training features from a new
                        RandomResizedCrop + flip view of each image (an encoder pass per epoch)
                        Without --probe-augment the probe's features are computed once, from
                        un-augmented images, and reused every epoch; either way they are
                        standardised per feature with the training statistics (the paper
                        does not scale them).
GPU (models compiled with --target=cuda):
  --device N            the CUDA device to train on (default 0)
  --precision P         tf32 (default: TF32 tensor cores in the convolutions and GEMMs, as
                        PyTorch's convolutions), fp32 (full float32) or bf16 (bfloat16
                        tensor cores with float32 accumulation, as PyTorch's bf16 autocast;
                        weights, optimizer state, activations and losses stay float32)
Output:
  --metrics FILE        JSON lines: {"type":"step"|"epoch"|"heldout"|"probe"|"memory"|"run",...}
  --log-every N         progress on stderr every N steps (default 50)
  --help                this text

Exit status: 0 done, 1 runtime error, 2 bad options.
)";
  text += std::string("\n") + viewOptionsHelp();
  return text;
}

} // namespace locus::rt::train
