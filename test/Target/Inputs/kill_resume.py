#!/usr/bin/python3
"""Kills a training run with SIGKILL at a random step and resumes it.

usage: kill_resume.py BINARY WORKDIR --steps S --every K --kill-seed N [-- training options]

1. the reference: BINARY OPTIONS --max-steps S --save ref.safetensors, uninterrupted;
2. the same run with --checkpoint state.safetensors --checkpoint-every K, killed with
   SIGKILL once its metrics show a step drawn at random (seeded) from [K + 1, S - 2];
3. BINARY OPTIONS --max-steps S --resume state.safetensors --save resumed.safetensors;
4. every tensor of the two final files is compared byte for byte.
Exit status 0 when they are identical; the lines printed say what happened.
"""
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time


def tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    return {k: (v["dtype"], v["shape"], body[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items() if k != "__metadata__"}


def last_step(metrics):
    try:
        with open(metrics) as f:
            steps = [json.loads(l).get("step", 0) for l in f if '"type":"step"' in l]
        return max(steps, default=0)
    except (OSError, ValueError):
        return 0


def main():
    args = sys.argv[1:]
    extra = args[args.index("--") + 1:] if "--" in args else []
    args = args[:args.index("--")] if "--" in args else args
    binary, work = args[0], args[1]
    opt = dict(zip(args[2::2], args[3::2]))
    steps, every, seed = int(opt["--steps"]), int(opt["--every"]), int(opt["--kill-seed"])
    os.makedirs(work, exist_ok=True)
    ref, state = os.path.join(work, "ref.safetensors"), os.path.join(work, "state.safetensors")
    resumed, metrics = os.path.join(work, "resumed.safetensors"), os.path.join(work, "m.jsonl")
    for path in (ref, state, resumed, metrics):
        if os.path.exists(path):
            os.remove(path)
    common = [binary] + extra + ["--max-steps", str(steps)]
    subprocess.run(common + ["--save", ref], check=True, stderr=subprocess.DEVNULL)

    target = random.Random(seed).randint(every + 1, steps - 2)
    run = subprocess.Popen(common + ["--checkpoint", state, "--checkpoint-every", str(every),
                                     "--metrics", metrics, "--log-every", "1"],
                           stderr=subprocess.DEVNULL)
    while last_step(metrics) < target and run.poll() is None:
        time.sleep(0.002)
    run.send_signal(signal.SIGKILL)
    code = run.wait()
    if code != -signal.SIGKILL:
        sys.exit(f"the run ended (exit {code}) before it could be killed at step {target}")
    killed_at = last_step(metrics)
    print(f"killed with SIGKILL at step {killed_at} (target {target}) of {steps}")

    subprocess.run(common + ["--resume", state, "--save", resumed, "--metrics", metrics],
                   check=True, stderr=subprocess.DEVNULL)
    a, b = tensors(ref), tensors(resumed)
    if a.keys() != b.keys():
        sys.exit(f"different tensors: {sorted(a.keys() ^ b.keys())}")
    differ = [k for k in a if a[k] != b[k]]
    if differ:
        sys.exit(f"{len(differ)} of {len(a)} tensors differ from the uninterrupted run: {differ[:5]}")
    with open(metrics) as f:
        resumes = [json.loads(l) for l in f if '"type":"step"' in l]
    print(f"resumed: {len(a)} tensors bit-identical to the uninterrupted run; metrics hold "
          f"{len(resumes)} step records")


if __name__ == "__main__":
    main()
