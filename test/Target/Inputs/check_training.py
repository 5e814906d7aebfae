#!/usr/bin/python3
"""Checks the metrics of a short Fashion-MNIST CLAPP++ run (train-fmnist.test).

usage: check_training.py UNTRAINED.jsonl TRAINED.jsonl

- every block's held-out local loss after training is below half its value
  before training (both measured by the trained run on the same test views);
- the linear probe's test accuracy on the trained network is reported and at
  most 1 point below the probe on the untrained network (random convolutional
  features are already strong on Fashion-MNIST, so no gain is required);
- the measured peak memory of the training steps is within 10% of the plan.
"""
import json
import sys


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def one(recs, kind, path):
    found = [r for r in recs if r.get("type") == kind]
    if len(found) != 1:
        sys.exit(f"{path}: expected one '{kind}' record, found {len(found)}")
    return found[0]


def main():
    untrained_path, trained_path = sys.argv[1], sys.argv[2]
    untrained, trained = records(untrained_path), records(trained_path)
    failures = []

    heldout = [r for r in trained if r.get("type") == "heldout"]
    if not heldout:
        failures.append("no held-out loss records")
    for r in heldout:
        ok = r["after"] < 0.5 * r["before"]
        print(f"held-out {r['block']}: before {r['before']:.4f} after {r['after']:.4f} "
              f"({'below' if ok else 'NOT below'} half)")
        if not ok:
            failures.append(f"block {r['block']}: held-out loss {r['after']:.4f} is not below "
                            f"half of {r['before']:.4f}")

    before = one(untrained, "probe", untrained_path)["test_acc"]
    after = one(trained, "probe", trained_path)["test_acc"]
    print(f"probe test accuracy: untrained {100 * before:.2f}%, trained {100 * after:.2f}%")
    if after < before - 0.01:
        failures.append(f"probe accuracy {100 * after:.2f}% is more than 1 point below the "
                        f"untrained network's {100 * before:.2f}%")

    memory = one(trained, "memory", trained_path)
    planned, measured = memory["planned_peak_bytes"], memory["measured_peak_bytes"]
    ratio = measured / planned
    print(f"memory: planned {planned / 2**20:.1f} MiB, measured {measured / 2**20:.1f} MiB "
          f"(ratio {ratio:.3f})")
    if abs(ratio - 1) > 0.10:
        failures.append(f"measured peak {measured} B is not within 10% of the plan {planned} B")

    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
