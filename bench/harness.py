#!/usr/bin/env python3
"""Times the PyTorch reference and the locus training binary the same way, from outside.

For each side and each net, two runs in fresh processes:
  short: W training steps              (reference: --warmup W --steps 0; locus: --max-steps W)
  long:  W + S training steps          (reference: --warmup W --steps S; locus: --max-steps W+S)
  steps/s   = S / (wall(long) - wall(short))   -- start-up, data set-up and warm-up cancel out
  peak RSS  = ru_maxrss of the long run's process, from os.wait4 (the child's own rusage)
Wall time is time.perf_counter around fork/exec .. wait4. The reference's own
in-process timing of its S steps is printed beside it as a cross-check.

Only the standard library is used here; the reference runs under --python.
Nothing is estimated: a side that did not run is reported as not measured.
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# The two configurations of the issue: (a) the Fashion-MNIST net, batch 32;
# (b) VGG-6 at CIFAR-10 shape, batch 16. Both CLAPP++.
NETS = {
    "fmnist": {"batch": 32, "binary": "fmnist-train"},
    "vgg6-cifar": {"batch": 16, "binary": "vgg6-cifar-train"},
}
TARGET_SPEEDUP = 3.0
TARGET_MEMORY = 0.5
OTHERS_LIMIT = 0.15  # cores that other processes may use during a run before its timing is flagged


class RssSampler(threading.Thread):
    """Samples /proc/PID/status every 20 ms: the peaks of RssAnon (heap, stacks: the program's data)
    and RssFile (mapped files: code and libraries). Informative only; the reported peak RSS is
    ru_maxrss, which the kernel keeps exactly."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.anon, self.file, self.done = pid, 0, 0, threading.Event()

    def run(self):
        path = f"/proc/{self.pid}/status"
        while not self.done.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            self.anon = max(self.anon, int(line.split()[1]) * 1024)
                        elif line.startswith("RssFile:"):
                            self.file = max(self.file, int(line.split()[1]) * 1024)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                return
            self.done.wait(0.02)


def run_measured(cmd, env, log_prefix):
    """Runs cmd in a fresh process; returns wall seconds, the child's peak RSS in bytes, rc, output."""
    out_path, err_path = log_prefix + ".stdout", log_prefix + ".stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        m0 = cpu_snap()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        sampler = RssSampler(proc.pid)
        sampler.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        m1 = cpu_snap()
        sampler.done.set()
        sampler.join()
    # CPU time that the rest of the machine used meanwhile, in cores: its busy time minus the child's.
    busy_s = ((m1[0] - m1[1]) - (m0[0] - m0[1])) / CLK_TCK
    others = max(0.0, busy_s - (ru.ru_utime + ru.ru_stime)) / wall if wall > 0 else 0.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, errors="replace") as f:
        stdout = f.read()
    with open(err_path, errors="replace") as f:
        stderr = f.read()
    return {"cmd": cmd, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "others_cores": others, "maxrss_bytes": ru.ru_maxrss * 1024, "peak_anon_bytes": sampler.anon, "peak_file_bytes": sampler.file,
            "rc": proc.returncode,
            "stdout": stdout, "stderr": stderr}


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_snap():
    """(all jiffies, idle jiffies) of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    v = v[:8]  # user nice system idle iowait irq softirq steal (guest time is inside user)
    return sum(v), v[3] + v[4]


def cpu_busy_fraction(seconds=3.0):
    """Fraction of all cores' time that was busy over the next `seconds` (from /proc/stat)."""
    snap = cpu_snap
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(max_s):
    """Waits up to max_s seconds for the machine to be idle (< 10% busy over 3 s). Returns the last busy fraction."""
    start = time.time()
    said = -1
    while True:
        busy = cpu_busy_fraction()
        waited = time.time() - start
        if busy < 0.10 or waited >= max_s:
            return busy
        if int(waited // 60) != said:
            said = int(waited // 60)
            print(f"   machine {busy:.0%} busy; waiting for it to be idle ({waited:.0f} of {max_s:.0f} s)", flush=True)


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                pass
    return None


def tail(text, n=6):
    lines = text.strip().splitlines()
    return "\n".join("      | " + l for l in lines[-n:])


def measure_rep(side, make_cmd, args, env, logdir, net, rep):
    """One repeat of one side: its W-step and W+S-step runs. make_cmd(total_steps, timed_steps,
    metrics_path) -> argv. Returns the repeat's record, or a result dict with "measured": False."""
    W, S = args.warmup, args.steps[net]
    runs = {}
    for kind, total, timed in (("short", W, 0), ("long", W + S, S)):
        metrics = os.path.join(logdir, f"{net}.{side}.{kind}.{rep}.metrics.jsonl")
        if os.path.exists(metrics):
            os.remove(metrics)
        cmd = make_cmd(total, timed, metrics)
        print(f"  [{side}] $ {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
        for attempt in range(1 + args.busy_retries):
            if attempt:
                print(f"      other processes were busy: running it again ({attempt} of {args.busy_retries})",
                      flush=True)
                if os.path.exists(metrics):
                    os.remove(metrics)
            r = run_measured(cmd, env, os.path.join(logdir, f"{net}.{side}.{kind}.{rep}"))
            r["metrics_path"] = metrics
            print(f"      rc={r['rc']} wall={r['wall_s']:.3f}s cpu={r['cpu_s']:.3f}s"
                  f" peak_rss={r['maxrss_bytes'] / 2**20:.1f} MiB, other processes used {r['others_cores']:.2f}"
                  f" cores", flush=True)
            if r["rc"] != 0 or r["others_cores"] <= OTHERS_LIMIT:
                break
        if r["rc"] != 0:
            return {"measured": False, "why": f"{kind} run exited with {r['rc']}",
                    "stderr_tail": tail(r["stderr"] or r["stdout"]), "cmd": cmd}
        runs[kind] = r
    dt = runs["long"]["wall_s"] - runs["short"]["wall_s"]
    return {"short": runs["short"], "long": runs["long"], "delta_s": dt,
            "steps_per_s": S / dt if dt > 0 else None,
            "cpu_s_per_step": (runs["long"]["cpu_s"] - runs["short"]["cpu_s"]) / S if S else None}


def summarize_side(kind_, reps, args, net):
    """The medians over one side's repeats, and what its last run reported."""
    W, S = args.warmup, args.steps[net]
    sps = [r["steps_per_s"] for r in reps if r["steps_per_s"]]
    res = {
        "measured": bool(sps),
        "why": None if sps else "wall(long) <= wall(short): too few steps to time; raise --steps",
        "steps_per_s": statistics.median(sps) if sps else None,
        "steps_per_s_all": sps,
        # In run order (None where a repeat was not timed), to pair with the other sides' repeats.
        "steps_per_s_reps": [r["steps_per_s"] for r in reps],
        "cpu_s_per_step": statistics.median([r["cpu_s_per_step"] for r in reps if r["cpu_s_per_step"]] or [0]) or None,
        "others_cores_max": max(max(r["short"]["others_cores"], r["long"]["others_cores"]) for r in reps),
        # Peak RSS varies by tens of MiB from run to run (allocator, thread start-up): the median
        # over the repeats, the same rule for every side.
        "peak_rss_bytes": statistics.median(r["long"]["maxrss_bytes"] for r in reps),
        "peak_rss_bytes_all": [r["long"]["maxrss_bytes"] for r in reps],
        "peak_anon_bytes": statistics.median(r["long"]["peak_anon_bytes"] for r in reps),
        "peak_file_bytes": statistics.median(r["long"]["peak_file_bytes"] for r in reps),
        "wall_short_s": [r["short"]["wall_s"] for r in reps],
        "wall_long_s": [r["long"]["wall_s"] for r in reps],
        "warmup": W,
        "steps": S,
    }
    last = reps[-1]["long"]
    if kind_ == "pytorch":
        j = last_json_line(last["stdout"])
        res["inside"] = j
        res["final_loss"] = j.get("final_loss") if j else None
        res["steps_per_s_inside"] = j.get("steps_per_s") if j else None
        if res["steps_per_s"] and res["steps_per_s_inside"]:
            q = res["steps_per_s"] / res["steps_per_s_inside"]
            if not 0.67 < q < 1.5:
                res["note"] = (f"outside and inside timings disagree ({q:.2f}x): start-up noise is large"
                               f" against {S} steps; raise the step count or --repeats")
    else:
        metrics = []
        if os.path.exists(last["metrics_path"]):
            with open(last["metrics_path"], errors="replace") as f:
                for line in f:
                    line = line.strip()
                    if line:
                        try:
                            metrics.append(json.loads(line))
                        except json.JSONDecodeError:
                            pass
        res["metrics_lines"] = len(metrics)
        metrics = [m for m in metrics if isinstance(m, dict)]
        steps = [m for m in metrics if m.get("type") == "step"] or metrics
        last = steps[-1] if steps else None
        res["metrics_last_step"] = last
        res["metrics_memory"] = next((m for m in reversed(metrics) if m.get("type") == "memory"), None)
        loss = None
        if last:
            for key in ("loss", "total_loss", "train_loss"):
                v = last.get(key)
                if isinstance(v, (int, float)):
                    loss = v
                elif isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
                    loss = sum(v)  # per-block losses: summed, like the reference's final_loss
                if loss is not None:
                    break
            if isinstance(last.get("steps_per_s"), (int, float)):
                res["steps_per_s_inside"] = last["steps_per_s"]
        res["final_loss"] = loss
        if not metrics:
            res["note"] = "metrics file missing or empty"
    return res


def fmt(x, spec):
    if isinstance(x, (int, float)):
        return format(x, spec)
    width = int(spec.split(".")[0] or 0)
    return "-".rjust(width)


def print_table(results):
    print("\n" + "=" * 118)
    print("steps/s = S / (wall(W+S steps) - wall(W steps)), both measured from outside; "
          "peak RSS = ru_maxrss of the W+S run\n(anon, file) = peaks of RssAnon and RssFile sampled every 20 ms"
          " (data vs mapped code and libraries)")
    hdr = f"{'net':<11} {'side':<15} {'batch':>5} {'W':>3} {'S':>4} {'steps/s':>9} {'(inside)':>9} " \
          f"{'cpu s/step':>10} {'peak RSS MiB':>13} {'(anon':>7} {'file)':>6} {'final loss':>11}"
    print(hdr)
    print("-" * len(hdr))
    for net, r in results["nets"].items():
        for label, s in r["sides"].items():
            if s.get("measured"):
                print(f"{net:<11} {label:<15} {r['batch']:>5} {s['warmup']:>3} {s['steps']:>4} "
                      f"{fmt(s['steps_per_s'], '9.3f')} {fmt(s.get('steps_per_s_inside'), '9.3f')} "
                      f"{fmt(s.get('cpu_s_per_step'), '10.3f')} "
                      f"{s['peak_rss_bytes'] / 2**20:>13.1f} {s['peak_anon_bytes'] / 2**20:>7.0f} "
                      f"{s['peak_file_bytes'] / 2**20:>6.0f} {fmt(s.get('final_loss'), '11.4f')}"
                      + ("  BUSY" if s.get("others_cores_max", 0) > OTHERS_LIMIT else ""))
            else:
                first = (s.get("why") or "").splitlines()[0] if s.get("why") else ""
                print(f"{net:<11} {label:<15} {r['batch']:>5}   NOT MEASURED: {first}")
        r["ratios"] = {}
        locus_labels = [l for l in r["sides"] if l.startswith("locus")]
        pairs_of_sides = [(ll, label, a) for ll in locus_labels for label, a in r["sides"].items()
                          if not label.startswith("locus")]
        for locus_label, label, a in pairs_of_sides:
            loc = r["sides"][locus_label]
            key = label if locus_label == "locus" else f"{locus_label}/{label}"
            if a.get("measured") and loc.get("measured"):
                sp = loc["steps_per_s"] / a["steps_per_s"]
                mem = loc["peak_rss_bytes"] / a["peak_rss_bytes"]
                r["ratios"][key] = {"steps_per_s": sp, "peak_rss": mem,
                                    "speed_target_met": sp >= TARGET_SPEEDUP, "memory_target_met": mem <= TARGET_MEMORY}
                print(f"{'':<11} {locus_label} / {label}: steps/s {sp:.2f}x (target >= {TARGET_SPEEDUP:g}x: "
                      f"{'met' if sp >= TARGET_SPEEDUP else 'NOT met'}), peak RSS {mem:.2f}x "
                      f"(target <= {TARGET_MEMORY:g}x: {'met' if mem <= TARGET_MEMORY else 'NOT met'})")
                # The spread behind the medians: repeat i of each side ran minutes apart at most
                # (the repeats go round the sides), and CPU time per step drifts less than wall time.
                pairs = [l / o for l, o in zip(loc.get("steps_per_s_reps", []), a.get("steps_per_s_reps", []))
                         if l and o]
                cpu = (a["cpu_s_per_step"] / loc["cpu_s_per_step"]
                       if a.get("cpu_s_per_step") and loc.get("cpu_s_per_step") else None)
                r["ratios"][key].update({"steps_per_s_paired_repeats": pairs, "cpu_s_per_step": cpu})
                spread = []
                if len(pairs) > 1:
                    spread.append(f"paired repeats {min(pairs):.2f}x-{max(pairs):.2f}x")
                if cpu:
                    spread.append(f"CPU seconds per step {cpu:.2f}x")
                if spread:
                    print(f"{'':<11}   ({'; '.join(spread)})")
            else:
                print(f"{'':<11} {locus_label} / {label}: n/a (a side was not measured)")
    print("=" * 118)
    busy = [(net, label, s["others_cores_max"]) for net, r in results["nets"].items()
            for label, s in r["sides"].items() if s.get("others_cores_max", 0) > OTHERS_LIMIT]
    if busy:
        print("BUSY: other processes used up to " + ", ".join(f"{c:.2f} cores ({l} {n})" for n, l, c in busy)
              + " during those runs: their timings are low; rerun on an idle machine (--wait-idle)")
    else:
        print(f"other processes used at most {OTHERS_LIMIT} cores during every run: the machine was quiet")
    for net, r in results["nets"].items():
        for label, s in r["sides"].items():
            inside = s.get("inside") or {}
            if inside:
                print(f"{label} {net}: torch {inside.get('torch')}, threads {inside.get('threads')}, "
                      f"RSS after import {inside.get('rss_after_import_bytes', 0) / 2**20:.1f} MiB, "
                      f"before the first step {inside.get('rss_before_train_bytes', 0) / 2**20:.1f} MiB, "
                      f"{inside.get('params')} parameters")
                b = inside.get("blas") or {}
                pools = b.get("threadpools")
                pools = "; ".join(f"{d.get('internal_api')} {d.get('version') or ''} {d.get('architecture') or ''}"
                                  f" x{d.get('num_threads')} ({os.path.basename(d.get('filepath', ''))})"
                                  for d in pools) if isinstance(pools, list) else pools
                print(f"{label} {net}: BLAS_INFO={b.get('BLAS_INFO')} mkldnn={b.get('mkldnn')} "
                      f"cpu={b.get('cpu_capability', 'n/a')}; thread pools: {pools}")
            if s.get("stderr_tail"):
                print(f"{label} {net} failed:\n{s['stderr_tail']}")
            if s.get("note"):
                print(f"{label} {net}: {s['note']}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", action="append", default=[], metavar="LABEL=PYTHON",
                   help="a PyTorch reference: a label and the python that has torch (repeatable); "
                        "default pytorch=bench/.venv/bin/python")
    p.add_argument("--locus-bin-dir", default=os.path.join(HERE, "out", "bin"))
    p.add_argument("--locus-build-log", default=None,
                   help="file whose text explains a missing locus binary (from run.sh's build step)")
    p.add_argument("--locus-args", default="--heldout 0 --probe-epochs 0",
                   help="more arguments for the locus binary (default: skip its held-out evaluation and "
                        "linear probe, which run after training and are not training)")
    p.add_argument("--locus-variant", action="append", default=None, metavar="LABEL=ARGS",
                   help="another locus side: the same binary with more arguments (repeatable; label "
                        "starts with 'locus'); default locus-bf16='--optimizer-state bfloat16' "
                        "(AdamW's moments in bfloat16); 'none' for no variant")
    p.add_argument("--nets", default="fmnist,vgg6-cifar")
    p.add_argument("--steps-fmnist", type=int, default=30)
    p.add_argument("--steps-vgg6", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1,
                   help="short+long pairs per side; steps/s and peak RSS are their medians")
    p.add_argument("--busy-retries", type=int, default=2,
                   help="run a process again, up to this many times, when other processes used more than "
                        f"{OTHERS_LIMIT} cores meanwhile (default 2)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before starting, wait up to SECONDS for the CPUs to be idle (< 10%% busy over 3 s)")
    args = p.parse_args()
    args.steps = {"fmnist": args.steps_fmnist, "vgg6-cifar": args.steps_vgg6}
    nets = [n for n in args.nets.split(",") if n]
    for n in nets:
        if n not in NETS:
            sys.exit(f"harness: unknown net {n}; known: {', '.join(NETS)}")
    refs = []
    for spec in args.ref or ["pytorch=" + os.path.join(HERE, ".venv", "bin", "python")]:
        label, _, py = spec.partition("=")
        if not py:
            sys.exit(f"harness: --ref wants LABEL=PYTHON, got {spec}")
        refs.append((label, py))

    variants = []
    for spec in args.locus_variant or ["locus-bf16=--optimizer-state bfloat16"]:
        if spec == "none":
            continue
        label, _, extra = spec.partition("=")
        if not label.startswith("locus") or label == "locus" or not extra:
            sys.exit(f"harness: --locus-variant wants LABEL=ARGS with a label starting 'locus' "
                     f"(not 'locus' itself), got {spec}")
        variants.append((label, shlex.split(extra)))

    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = os.path.join(args.out, "logs-" + stamp)
    os.makedirs(logdir, exist_ok=True)

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    ref = os.path.join(HERE, "reference_clapp.py")
    results = {"when": stamp, "threads": args.threads, "warmup": args.warmup, "repeats": args.repeats,
               "env_OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
               "env_OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"), "nets": {}}
    build_note = ""
    if args.locus_build_log and os.path.exists(args.locus_build_log):
        with open(args.locus_build_log, errors="replace") as f:
            build_note = f.read().strip()

    busy = wait_idle(args.wait_idle) if args.wait_idle > 0 else cpu_busy_fraction(2.0)
    results["busy_before_start"] = busy
    load0 = os.getloadavg()
    results["loadavg_start"] = load0
    print(f"== CPUs {busy:.0%} busy just before the start (load average {load0[0]:.2f} {load0[1]:.2f}"
          f" {load0[2]:.2f}, {os.cpu_count()} cores)", flush=True)
    if busy > 0.10:
        print("   WARNING: the machine is busy with other work; every side's timings will suffer"
              " (cpu s/step is less affected than steps/s); --wait-idle SECONDS waits for quiet", flush=True)

    for net in nets:
        cfg = NETS[net]
        B = cfg["batch"]
        print(f"\n== {net}: batch {B} images ({2 * B} rows), warm-up {args.warmup}, timed {args.steps[net]} steps,"
              f" {args.threads} threads", flush=True)
        sides = {}
        plans = []  # (label, kind, make_cmd)
        for label, py in refs:
            def ref_cmd(total, timed, _metrics, net=net, B=B, py=py):
                return [py, ref, "--net", net, "--batch-size", str(B), "--steps", str(timed),
                        "--warmup", str(total - timed), "--threads", str(args.threads), "--seed", str(args.seed)]
            plans.append((label, "pytorch", ref_cmd))

        binary = os.path.join(args.locus_bin_dir, cfg["binary"])

        def locus_cmd(total, _timed, metrics, B=B, binary=binary, extra=()):
            return [binary, "--data", "synthetic", "--max-steps", str(total), "--batch-size", str(B),
                    "--seed", str(args.seed), "--metrics", metrics] + shlex.split(args.locus_args) + list(extra)

        have_locus = os.access(binary, os.X_OK) and os.path.isfile(binary)
        if have_locus:
            plans.append(("locus", "locus", locus_cmd))
            for label, extra in variants:
                plans.append((label, "locus",
                              lambda total, timed, metrics, extra=extra: locus_cmd(total, timed, metrics,
                                                                                   extra=extra)))
        # Repeats go round the sides (PyTorch, locus, PyTorch, locus, ...), so a slow spell of the
        # machine (its speed drifts by up to +-25% over minutes here) reaches every side.
        reps = {label: [] for label, _, _ in plans}
        for rep in range(args.repeats):
            for label, _, make in plans:
                if label in sides:
                    continue  # failed earlier
                r = measure_rep(label, make, args, env, logdir, net, rep)
                if "measured" in r:
                    sides[label] = r
                else:
                    reps[label].append(r)
        for label, kind_, _ in plans:
            if label not in sides:
                sides[label] = summarize_side(kind_, reps[label], args, net)
        if have_locus:
            for label in ["locus"] + [l for l, _ in variants]:
                sides[label] = sides.pop(label)  # printed last
        else:
            why = f"locus training binary not found: {binary}"
            if build_note:
                why += "\n" + tail(build_note, 4)
            print(f"  [locus] NOT MEASURED: {why}", flush=True)
            sides["locus"] = {"measured": False, "why": why}
        results["nets"][net] = {"batch": B, "sides": sides}

    print_table(results)
    results["loadavg_end"] = os.getloadavg()
    print(f"load average at end: {results['loadavg_end'][0]:.2f} {results['loadavg_end'][1]:.2f}"
          f" {results['loadavg_end'][2]:.2f}")
    path = os.path.join(args.out, f"results-{stamp}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=str)
    print(f"results: {path}\nlogs:    {logdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
