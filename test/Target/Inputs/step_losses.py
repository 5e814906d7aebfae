#!/usr/bin/python3
"""Per-block losses of 20 fixed-seed training steps, for every rule and update.

usage: step_losses.py --locusc LOCUSC --spec SPEC --golden GOLDEN.json --work DIR
                      [--record] [--only NAME ...]

Each case compiles SPEC with one rule (and optimizer options), trains it for
20 steps on synthetic data with a fixed seed and reads every step's per-block
losses from the metrics. Without --record each loss must match GOLDEN.json to
the case's relative tolerance (1e-5 unless the golden file says otherwise for
that case); with --record GOLDEN.json is written from this run.

The golden file was recorded before the step moved from the runtime's
hand-written losses into generated kernels (issue 11), so it pins today's
numbers on every later change of where the math runs.
"""
import argparse
import json
import math
import os
import subprocess
import sys

STEPS = 20

# name: (locusc options, binary options)
CASES = {
    "clapp++": (["--rule=clapp++"], []),
    "clapp++dfb": (["--rule=clapp++dfb"], []),
    "clapp++both": (["--rule=clapp++both"], []),
    "clapp": (["--rule=clapp"], []),
    "phyll": (["--rule=phyll"], []),
    "ff": (["--rule=ff"], []),
    "scff": (["--rule=scff"], []),
    "bp-clapp++": (["--rule=bp-clapp++"], []),
    "bp-infonce": (["--rule=bp-infonce"], []),
    "clapp++-bf16-moments": (["--rule=clapp++"], ["--optimizer-state", "bfloat16"]),
    "clapp++-sgd": (["--rule=clapp++"], ["--optimizer", "sgd", "--lr", "0.01"]),
    "clapp++-lars": (["--rule=clapp++"], ["--optimizer", "lars", "--lr", "0.05"]),
    "clapp++dfb-cosine": (["--rule=clapp++dfb"],
                          ["--schedule", "cosine", "--warmup-steps", "5"]),
}


def run_case(args, name):
    compile_opts, run_opts = CASES[name]
    binary = os.path.join(args.work, name + ".train")
    metrics = os.path.join(args.work, name + ".jsonl")
    # x86-64-v3 (AVX2) kernels and OpenBLAS's Haswell GEMMs on every CPU, so
    # that AVX-512 machines sum in the same order as AVX2 ones; two workers
    # (CI's cores) split the GEMMs the same way everywhere.
    subprocess.run([args.locusc, args.spec, "--batch-size=4", "--mcpu=x86-64-v3", *compile_opts,
                    "-o", binary], check=True)
    if os.path.exists(metrics):
        os.remove(metrics)
    subprocess.run([binary, "--data", "synthetic:64", "--epochs", "2", "--max-steps", str(STEPS), "--seed", "7",
                    "--log-every", "1", "--heldout", "0", "--probe-epochs", "0",
                    "--metrics", metrics, *run_opts],
                   check=True, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, OPENBLAS_CORETYPE="Haswell", LOCUS_CPU_THREADS="2"))
    with open(metrics) as f:
        steps = [json.loads(line) for line in f if line.strip()]
    losses = [r["loss"] for r in steps if r.get("type") == "step"]
    if len(losses) != STEPS:
        sys.exit(f"{name}: {len(losses)} step records, expected {STEPS}")
    return losses


def same(a, b, tol):
    # The local blocks of a global-mode rule have no loss (null in JSON).
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--locusc", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--golden", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    names = args.only or list(CASES)

    if args.record:
        golden = {"steps": STEPS, "cases": {}}
        for name in names:
            golden["cases"][name] = {"tolerance": 1e-5, "losses": run_case(args, name)}
        with open(args.golden, "w") as f:
            json.dump(golden, f, indent=1)
            f.write("\n")
        print(f"recorded {len(names)} cases into {args.golden}")
        return

    with open(args.golden) as f:
        golden = json.load(f)
    failures = 0
    for name in names:
        case = golden["cases"][name]
        tol = case["tolerance"]
        got = run_case(args, name)
        worst = 0.0
        bad = []
        for step, (want_row, got_row) in enumerate(zip(case["losses"], got), start=1):
            for block, (want, have) in enumerate(zip(want_row, got_row), start=1):
                if not same(want, have, tol):
                    bad.append(f"step {step} block {block}: golden {want!r}, got {have!r}")
                elif want is not None:
                    worst = max(worst, abs(want - have) / max(abs(want), 1e-30))
        if bad:
            failures += 1
            print(f"{name}: FAIL (tolerance {tol:g})")
            for line in bad[:5]:
                print("  " + line)
        else:
            print(f"{name}: ok (largest relative difference {worst:.2e}, tolerance {tol:g})")
    print(f"{len(names) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
