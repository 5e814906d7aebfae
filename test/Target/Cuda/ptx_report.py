#!/usr/bin/env python3
"""Extracts the PTX of every gpu.binary in an MLIR file (locus-lower-kernels-to-nvvm's
output), assembles each with ptxas for the given architecture and prints one line per
kernel: its registers, stack frame and spill bytes. Exits 1 if ptxas rejects one.

    ptx_report.py LOWERED.mlir PTXAS sm_90 OUTDIR
"""
import os
import re
import subprocess
import sys


def unescape(text):
    """MLIR prints a string attribute's non-printable bytes as \\XX (hex)."""
    out = bytearray()
    i = 0
    raw = text.encode()
    while i < len(raw):
        if raw[i] == ord("\\") and i + 2 < len(raw) + 1:
            nxt = raw[i + 1:i + 3]
            if re.fullmatch(rb"[0-9A-Fa-f]{2}", nxt):
                out.append(int(nxt, 16))
                i += 3
                continue
            out.append(raw[i + 1])
            i += 2
            continue
        out.append(raw[i])
        i += 1
    return out.decode()


def main():
    source, ptxas, arch, outdir = sys.argv[1:5]
    os.makedirs(outdir, exist_ok=True)
    text = open(source).read()
    binaries = re.findall(r'gpu\.binary @(\w+)\s+\[#gpu\.object<[^,]*<[^>]*>[^"]*assembly = "((?:[^"\\]|\\.)*)"', text)
    if not binaries:
        print("no gpu.binary with PTX in", source)
        return 1
    failed = 0
    for name, escaped in binaries:
        path = os.path.join(outdir, name + ".ptx")
        with open(path, "w") as f:
            f.write(unescape(escaped))
        run = subprocess.run([ptxas, "-arch=" + arch, "-v", path, "-o", os.devnull],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"kernel {name}: ptxas failed: {run.stderr.strip()}")
            failed += 1
            continue
        info = run.stderr
        regs = re.search(r"Used (\d+) registers", info)
        frame = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", info)
        print(f"kernel {name}: {regs.group(1) if regs else '?'} registers, "
              f"{frame.group(1) if frame else '?'} bytes stack, "
              f"{frame.group(2) if frame else '?'} bytes spilled")
    print(f"{len(binaries)} kernels assembled for {arch}, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
