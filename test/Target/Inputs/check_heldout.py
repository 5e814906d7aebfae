"""Prints each block's held-out local loss before and after training from a
metrics file, and whether it went down, for FileCheck."""
import json
import sys

for line in open(sys.argv[1]):
    record = json.loads(line)
    if record.get("type") == "heldout":
        before, after = record["before"], record["after"]
        verdict = "decreased" if after < before else "did not decrease"
        print(f"{record['block']}: {before:.4f} -> {after:.4f} {verdict}")
