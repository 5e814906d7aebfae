#!/usr/bin/env python3
"""Data throughput: locus's views pipeline against torchvision's, beside the CPU training step.

Run through bench/data/run.sh (which picks the Python and the environment); options:
    --steps N            timed batches of 32 images per data measurement, both sides (default 100;
                         locus-data-bench on CIFAR-10 runs 5 N: its 100 steps are over in 0.2 s)
    --repeats R          each data measurement R times, sides alternating; medians (default 3)
    --workers 1,2        data workers (locus-data-bench --workers, DataLoader num_workers)
    --sets cifar10,stl10 data sets (CIFAR-10 views at 32x32, STL-10 views at 96x96)
    --train-steps-cifar N / --train-steps-stl N
                         training steps of the compiled VGG-6 (defaults 6 and 3); images/s is
                         read from the last "step" record of its metrics, which covers the last
                         N/2 steps (CIFAR) or the last step (STL), so the first steps are warm-up
    --components         also, at 1 worker: both sides with crop + flip only (--views crop),
                         torchvision on tensors (--input tensor), and torch_views.py --profile
    --files DIR          where the generated data files go (default bench/out/data-files; made
                         once: kept when DIR/.done matches the make_files.py arguments)
    --out DIR            results and logs (default bench/out/data)
    --no-build           do not call locusc (the binaries must exist)
    --wait-idle SECONDS  first wait up to that long for idle CPUs (under 10% busy over 3 s)

Every measurement also records how much CPU the machine's other processes used meanwhile
(/proc/stat busy time minus this script's children's CPU time, over the child's wall time), in
cores: the "other load" column gives the highest of a row's runs. On 2 cores a concurrent build
skews every number here.
"""
import argparse
import datetime
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(ROOT, "build", "bin")

SETS = {  # kind: (view side, model spec, training binary in bench/out/bin)
    "cifar10": (32, "examples/vgg6-cifar10.onnxtxt", "vgg6-cifar10"),
    "stl10": (96, "examples/vgg6-stl10.onnxtxt", "vgg6-stl10"),
}
MAKE_ARGS = ["--cifar-batches", "5", "--cifar-per-batch", "2000", "--cifar-test", "1000",
             "--stl-train", "1000", "--stl-unlabeled", "4000", "--stl-test", "500", "--seed", "0"]


def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v[:8]) - idle


def run(cmd, log, timeout=600, cwd=ROOT):
    """Runs cmd (stderr to log); returns (exit status, stdout, wall s, CPU s the machine was busy)."""
    hz = os.sysconf("SC_CLK_TCK")
    b0, t0 = busy_jiffies(), time.perf_counter()
    with open(log, "w") as err:
        err.write("$ " + shlex.join(cmd) + "\n")
        err.flush()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            err.write(f"\n(killed after {timeout} s)\n")
        err.write("\n--- stdout ---\n" + out)
    wall = time.perf_counter() - t0
    busy = (busy_jiffies() - b0) / hz
    return p.returncode, out, wall, busy


def last_json(out):
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    return None


class Children:
    """CPU time of reaped children (RUSAGE_CHILDREN), to split /proc/stat's busy time."""

    def __init__(self):
        import resource
        self.resource = resource
        self.last = self.now()

    def now(self):
        ru = self.resource.getrusage(self.resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    def delta(self):
        n = self.now()
        d, self.last = n - self.last, n
        return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--sets", default="cifar10,stl10")
    ap.add_argument("--train-steps-cifar", type=int, default=6)
    ap.add_argument("--train-steps-stl", type=int, default=3)
    ap.add_argument("--components", action="store_true")
    ap.add_argument("--files", default=os.path.join(ROOT, "bench", "out", "data-files"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "data"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS")
    a = ap.parse_args()
    workers = [int(w) for w in a.workers.split(",")]
    sets = a.sets.split(",")
    for s in sets:
        if s not in SETS:
            sys.exit(f"run.py: unknown data set {s} (cifar10, stl10)")
    py = sys.executable
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    logs = os.path.join(a.out, f"logs-{stamp}")
    os.makedirs(logs, exist_ok=True)
    bin_dir = os.path.join(ROOT, "bench", "out", "bin")
    os.makedirs(bin_dir, exist_ok=True)
    children = Children()

    def measure(name, cmd, timeout=600):
        rc, out, wall, busy = run(cmd, os.path.join(logs, name + ".log"), timeout)
        own = children.delta()
        other = max(0.0, busy - own) / max(wall, 1e-9)
        if rc != 0:
            print(f"  {name}: FAILED (exit {rc}); see {logs}/{name}.log", flush=True)
            return None, other
        return out, other

    if a.wait_idle > 0:
        hz, ncpu, deadline = os.sysconf("SC_CLK_TCK"), os.cpu_count(), time.time() + a.wait_idle
        while True:
            b0 = busy_jiffies()
            time.sleep(3)
            load = (busy_jiffies() - b0) / hz / 3 / ncpu
            if load < 0.10 or time.time() > deadline:
                print(f"CPUs {100 * load:.0f}% busy: " +
                      ("starting" if load < 0.10 else "waited long enough, starting anyway"),
                      flush=True)
                break
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines()
                  if l.startswith("Model name")), "?")
    info = {"time": stamp, "cpu": model, "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(), "steps": a.steps, "repeats": a.repeats,
            "python": py}
    print(f"data throughput: {model}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; logs in {logs}", flush=True)

    # 1. The files, once.
    done = os.path.join(a.files, ".done")
    want = " ".join(MAKE_ARGS)
    if not (os.path.exists(done) and open(done).read().strip() == want):
        print(f"making the data files in {a.files} ...", flush=True)
        out, _ = measure("make_files", [py, os.path.join(HERE, "make_files.py"),
                                        "--out", a.files] + MAKE_ARGS)
        if out is None:
            sys.exit(1)
        with open(done, "w") as f:
            f.write(want + "\n")

    # 2. The training binaries (batch fixed by the spec: 32 images, 64 views).
    locusc = os.environ.get("LOCUSC", os.path.join(BIN, "locusc"))
    binaries = {}
    for s in sets:
        _, spec, name = SETS[s]
        path = os.path.join(bin_dir, name)
        stale = (not os.path.exists(path) or
                 os.path.getmtime(path) < os.path.getmtime(locusc) or
                 os.path.getmtime(path) < os.path.getmtime(os.path.join(ROOT, spec)))
        if stale and not a.no_build:
            out, _ = measure(f"locusc-{name}", [locusc, os.path.join(ROOT, spec),
                                                "--target=cpu", "-o", path])
        if os.path.exists(path):
            helptext = subprocess.run([path, "--help"], capture_output=True, text=True).stdout
            m = re.search(r"\((\d+) images per step\)", helptext)
            binaries[s] = (path, int(m.group(1)) if m else 32)
        else:
            print(f"  no training binary {path}: training step NOT MEASURED", flush=True)

    rows, components = [], []
    for s in sets:
        side, _, _ = SETS[s]
        data = f"{s}:{os.path.join(a.files, s)}"
        locus_steps = 5 * a.steps if s == "cifar10" else a.steps
        for w in workers:
            samples = {"locus": [], "torch": []}
            other = []
            for r in range(a.repeats):
                out, o = measure(f"{s}-w{w}-locus-{r}", [
                    os.path.join(BIN, "locus-data-bench"), "--data", data, "--side", str(side),
                    "--channels", "3", "--workers", str(w), "--steps", str(locus_steps)])
                if out:
                    samples["locus"].append(last_json(out)["images_per_s"])
                other.append(o)
                out, o = measure(f"{s}-w{w}-torch-{r}", [
                    py, os.path.join(HERE, "torch_views.py"), "--data", data, "--workers", str(w),
                    "--batch", "32", "--steps", str(a.steps)])
                if out:
                    samples["torch"].append(last_json(out)["images_per_s"])
                other.append(o)
            row = {"data": s, "side": side, "workers": w,
                   "locus_images_per_s": statistics.median(samples["locus"]) if samples["locus"] else None,
                   "torch_images_per_s": statistics.median(samples["torch"]) if samples["torch"] else None,
                   "locus_samples": samples["locus"], "torch_samples": samples["torch"],
                   "other_cores_max": max(other)}
            rows.append(row)
            print(f"  {s} workers {w}: locus {fmt(row['locus_images_per_s'])} images/s "
                  f"{fmt_list(samples['locus'])}, torch {fmt(row['torch_images_per_s'])} images/s "
                  f"{fmt_list(samples['torch'])}; other processes up to {max(other):.2f} cores",
                  flush=True)

        # The training step on the same files.
        train = None
        if s in binaries:
            path, batch = binaries[s]
            steps = a.train_steps_cifar if s == "cifar10" else a.train_steps_stl
            every = max(1, steps // 2) if s == "cifar10" else 1
            metrics = os.path.join(logs, f"{s}-train-metrics.jsonl")
            out, o = measure(f"{s}-train", [path, "--data", data, "--max-steps", str(steps),
                                            "--log-every", str(every), "--heldout", "0",
                                            "--probe-epochs", "0", "--metrics", metrics])
            if out is not None:
                recs = [json.loads(l) for l in open(metrics) if l.strip().startswith("{")]
                steprec = [r for r in recs if r.get("type") == "step"]
                if steprec:
                    sps = steprec[-1]["steps_per_s"]
                    train = {"steps_per_s": sps, "batch": batch, "images_per_s": sps * batch,
                             "steps": steps, "timed_steps": steprec[-1]["step"] - (
                                 steprec[-2]["step"] if len(steprec) > 1 else 0),
                             "other_cores": o}
                    print(f"  {s} training step: {sps:.3f} steps/s x {batch} = "
                          f"{sps * batch:.1f} images/s; other processes {o:.2f} cores", flush=True)
        for row in rows:
            if row["data"] == s:
                row["train"] = train

        if a.components:
            comp = {"data": s, "workers": 1}
            out, _ = measure(f"{s}-crop-locus", [
                os.path.join(BIN, "locus-data-bench"), "--data", data, "--side", str(side),
                "--channels", "3", "--workers", "1", "--steps", str(locus_steps), "--views", "crop"])
            comp["locus_crop"] = last_json(out)["images_per_s"] if out else None
            for label, extra in (("torch_crop", ["--views", "crop"]),
                                 ("torch_tensor", ["--input", "tensor"])):
                out, _ = measure(f"{s}-{label}", [
                    py, os.path.join(HERE, "torch_views.py"), "--data", data, "--workers", "1",
                    "--batch", "32", "--steps", str(a.steps)] + extra)
                comp[label] = last_json(out)["images_per_s"] if out else None
            out, _ = measure(f"{s}-torch-profile", [
                py, os.path.join(HERE, "torch_views.py"), "--data", data,
                "--profile", "300" if s == "cifar10" else "150"])
            comp["torch_profile"] = last_json(out) if out else None
            components.append(comp)
            print(f"  {s} components (1 worker): locus crop-only {fmt(comp['locus_crop'])}, "
                  f"torch crop-only {fmt(comp['torch_crop'])}, torch on tensors "
                  f"{fmt(comp['torch_tensor'])} images/s", flush=True)

    info["loadavg_end"] = os.getloadavg()
    table = make_table(rows)
    print("\n" + table)
    if components:
        ctable = components_table(components, rows)
        print("\n" + ctable)
    else:
        ctable = ""
    print(f"\nload average at the start {fmt_load(info['loadavg_start'])}, at the end "
          f"{fmt_load(info['loadavg_end'])}")
    result = os.path.join(a.out, f"results-{stamp}.json")
    with open(result, "w") as f:
        json.dump({"info": info, "rows": rows, "components": components, "table": table,
                   "components_table": ctable}, f, indent=1)
    print(f"results: {result}")
    if any(r["locus_images_per_s"] is None or r["torch_images_per_s"] is None for r in rows):
        sys.exit(1)


def fmt(x, digits=0):
    return "n/a" if x is None else f"{x:,.{digits}f}"


def fmt_list(xs):
    return "[" + " ".join(f"{x:.0f}" for x in xs) + "]"


def fmt_load(l):
    return " ".join(f"{x:.2f}" for x in l)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def make_table(rows):
    lines = ["| data set | workers | locus data images/s | torch data images/s | locus/torch "
             "| training step images/s | locus data / training | torch data / training "
             "| other load (cores) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r.get("train")
        ti = t["images_per_s"] if t else None
        lines.append(
            f"| {r['data']} ({r['side']}x{r['side']}) | {r['workers']} "
            f"| {fmt(r['locus_images_per_s'])} | {fmt(r['torch_images_per_s'])} "
            f"| {fmt(ratio(r['locus_images_per_s'], r['torch_images_per_s']), 1)}x "
            f"| {fmt(ti, 1)} | {fmt(ratio(r['locus_images_per_s'], ti))}x "
            f"| {fmt(ratio(r['torch_images_per_s'], ti))}x "
            f"| {r['other_cores_max']:.2f} |")
    return "\n".join(lines)


def components_table(components, rows):
    lines = ["| data set (1 worker) | locus SimCLR | locus crop+flip | torch SimCLR (PIL) "
             "| torch crop+flip | torch SimCLR on tensors | torch profile, expected ms/view: PIL "
             "| tensor |",
             "|---|---|---|---|---|---|---|---|"]
    for c in components:
        full = next((r for r in rows if r["data"] == c["data"] and r["workers"] == 1), {})
        prof = c.get("torch_profile") or {}
        def stages(mode):
            p = prof.get(mode)
            if not p:
                return "n/a"
            parts = ", ".join(f"{k} {v['ms'] * v['p']:.3f}" for k, v in p["stages"].items())
            return f"{p['expected_ms_per_view']:.2f} ({parts})"
        lines.append(f"| {c['data']} | {fmt(full.get('locus_images_per_s'))} "
                     f"| {fmt(c['locus_crop'])} | {fmt(full.get('torch_images_per_s'))} "
                     f"| {fmt(c['torch_crop'])} | {fmt(c['torch_tensor'])} "
                     f"| {stages('pil')} | {stages('tensor')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
