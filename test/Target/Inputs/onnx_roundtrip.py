"""Checks an ONNX export of a locus encoder against locus's own features.

    onnx_roundtrip.py --onnx MODEL.onnx --input IMAGES.f32 --features FEATURES.f32 \
                      --shape N,C,H,W [--rtol 5e-4]

IMAGES.f32 holds N*C*H*W little-endian float32 (the images, NCHW),
FEATURES.f32 the training binary's features of them, N*F float32. Checks:

- onnx.checker.check_model(full_check=True) passes (strict shape inference
  included) and every node is in the default ONNX domain (no locus ops);
- the outputs are "features" then the block_<name> maps, as the model's
  "locus.features" metadata lists them ([{"block", "output", "offset",
  "count", "pool"}, ...]);
- onnxruntime's "features" on the images equal locus's: per block, max |ort -
  locus| / max |locus| <= rtol (norm-wise, as the runtime's own tests
  measure, so that near-zero entries do not count); the default 5e-4 is the
  runtime's tolerance for its Winograd F(7x7, 3x3) convolutions against
  float64 (test/Unit/CpuKernelsTest.cpp), which SCFF's standardised inputs
  reach; the exporter itself is float32-exact;
- each block_<name> map, pooled as its metadata says (average pooling with
  kernel = stride; 0: global average; -1: none) and flattened, is that
  block's slice of "features".

Prints the errors per block; exits 1 with the reason on any failure. Needs
Python's onnx and onnxruntime (a venv with --system-site-packages reaches
Debian's python3-onnx).
"""
import argparse
import json
import sys

import numpy as np


def fail(message):
    print(f"onnx_roundtrip: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def pool(h, k):
    """A block map [N, C, H, W] pooled for the features, [N, D]."""
    n, c, height, width = h.shape
    if k == -1:
        return h.reshape(n, -1)
    if k == 0:
        return h.mean(axis=(2, 3))
    oh, ow = height // k, width // k
    windows = h[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k)
    return windows.mean(axis=(3, 5)).reshape(n, -1)


def normwise(a, b):
    """max |a - b| / max |b| (max |a - b| where b is all zeros); inf on NaN."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    if a.size == 0:
        return 0.0
    if not np.all(np.isfinite(a)):
        return float("inf")
    scale = float(np.abs(b).max())
    error = float(np.abs(a - b).max())
    return error / scale if scale > 0 else error


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--input", required=True, help="the images, float32 NCHW")
    parser.add_argument("--features", required=True, help="locus's features, float32 [N, F]")
    parser.add_argument("--shape", required=True, help="N,C,H,W of the images")
    parser.add_argument("--rtol", type=float, default=5e-4,
                        help="largest norm-wise relative error per block (default 5e-4)")
    args = parser.parse_args()

    import onnx
    try:
        import onnxruntime as ort
    except ImportError:
        fail("onnxruntime is not installed (python3 -m venv --system-site-packages DIR && "
             "DIR/bin/pip install onnxruntime)")

    try:
        shape = [int(v) for v in args.shape.split(",")]
    except ValueError:
        shape = []
    if len(shape) != 4 or min(shape) < 1:
        fail(f"--shape {args.shape!r} is not N,C,H,W")

    model = onnx.load(args.onnx)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # onnx raises ValidationError or InferenceError
        fail(f"{args.onnx}: onnx.checker: {e}")
    print(f"checker: ok (ir_version {model.ir_version}, opset "
          + ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
          + f", {len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers)")
    domains = {o.domain for o in model.opset_import} | {n.domain for n in model.graph.node}
    if domains - {""}:
        fail(f"{args.onnx}: uses operator domains {sorted(domains - {''})}, not standard ONNX only")

    meta = {p.key: p.value for p in model.metadata_props}
    if "locus.features" not in meta:
        fail(f"{args.onnx}: no locus.features metadata")
    blocks = json.loads(meta["locus.features"])
    outputs = [o.name for o in model.graph.output]
    expected_outputs = ["features"] + [b["output"] for b in blocks]
    if outputs != expected_outputs:
        fail(f"{args.onnx}: the outputs are {outputs}, expected {expected_outputs}")

    n, c, h, w = shape
    images = np.fromfile(args.input, dtype="<f4")
    if images.size != n * c * h * w:
        fail(f"{args.input}: {images.size} float32 values, not [{n}, {c}, {h}, {w}]")
    images = images.reshape(shape)
    width = sum(b["count"] for b in blocks)
    expected = np.fromfile(args.features, dtype="<f4")
    if expected.size != n * width:
        fail(f"{args.features}: {expected.size} float32 values, not [{n}, {width}]")
    expected = expected.reshape(n, width)

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    got, *maps = session.run(expected_outputs, {"images": images})
    if got.shape != expected.shape:
        fail(f"onnxruntime's features are {list(got.shape)}, locus's {list(expected.shape)}")

    failures = []
    worst = 0.0
    for block, h_map in zip(blocks, maps):
        cols = slice(block["offset"], block["offset"] + block["count"])
        error = normwise(got[:, cols], expected[:, cols])
        inner = normwise(pool(h_map.astype(np.float64), block["pool"]), got[:, cols])
        worst = max(worst, error)
        print(f"  {block['block']}: features [{block['offset']}, "
              f"{block['offset'] + block['count']}) pool {block['pool']}, "
              f"map {list(h_map.shape)}: max |ort - locus| / max |locus| = {error:.3e} "
              f"(max |locus| {float(np.abs(expected[:, cols]).max()):.3e}); "
              f"pooled map vs features {inner:.1e}")
        if not error <= args.rtol:
            failures.append(f"{block['block']}'s features differ from locus's by {error:.3e} "
                            f"(relative to their largest magnitude) > {args.rtol}")
        if not inner <= 1e-5:
            failures.append(f"{block['output']} pooled with kernel {block['pool']} is not its "
                            f"features slice ({inner:.3e})")
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    print(f"features [{n}, {width}]: max abs error {float(diff.max()):.3e}, largest block "
          f"relative error {worst:.3e} (rtol {args.rtol})")
    if failures:
        fail("; ".join(failures))
    print("onnx_roundtrip: ok")


if __name__ == "__main__":
    main()
