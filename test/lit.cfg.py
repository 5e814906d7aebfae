# -*- Python -*- lit configuration of the locus regression tests.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "locus"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
# Fuzz/: corpora and regression inputs, replayed by ctest (test/Fuzz), not lit tests.
config.excludes = ["Inputs", "Unit", "Fuzz", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.locus_obj_root, "test")

config.substitutions.append(("%examples", os.path.join(config.locus_src_root, "examples")))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Frontend", "Inputs")))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["locus-opt", "locusc", "locus-train-model", "locus-plot"],
                                   [config.locus_tools_dir])

# Regenerating the example specs needs Debian's python3-onnx.
import subprocess
if subprocess.call(["/usr/bin/python3", "-c", "import onnx"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("python-onnx")

# The export tests check against onnxruntime and safetensors from PyPI,
# installed into .venv-test by scripts/install-deps.sh.
test_python = os.path.join(config.locus_src_root, ".venv-test", "bin", "python")
if os.path.exists(test_python) and subprocess.call(
        [test_python, "-c", "import onnxruntime, safetensors, onnx"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("onnxruntime")
    config.substitutions.append(("%test-python", test_python))

# The end-to-end training test needs Debian's dataset-fashion-mnist.
if os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    config.available_features.add("fashion-mnist")

# The CUDA target's PTX is assembled by the toolkit's ptxas where there is one
# (no GPU needed).
import shutil
ptxas = shutil.which("ptxas") or ("/usr/local/cuda/bin/ptxas"
                                  if os.path.exists("/usr/local/cuda/bin/ptxas") else None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# Lowering to PTX links the toolkit's libdevice (locus-lower-kernels-to-nvvm),
# found where locusc looks for it.
cuda_roots = [os.environ.get(v) for v in ("CUDA_ROOT", "CUDA_PATH", "CUDA_HOME")] + ["/usr/local/cuda"]
if any(r and os.path.exists(os.path.join(r, "nvvm", "libdevice", "libdevice.10.bc"))
       for r in cuda_roots):
    config.available_features.add("cuda-libdevice")

# A --target=cuda training binary links where locus built its CUDA back end;
# it trains where a CUDA device answers (locus-device-query says which).
if getattr(config, "locus_cuda_backend", "OFF").upper() in ("ON", "1", "TRUE"):
    config.available_features.add("cuda-runtime")
    query = os.path.join(config.locus_tools_dir, "locus-device-query")
    if os.path.exists(query):
        text = subprocess.run([query], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout
        if "cuda: available" in text:
            config.available_features.add("cuda-device")
