"""Writes a small image folder ROOT/{train,val}/<class>/<i>.png for the
training binary's --data folder:ROOT, with PNGs encoded here (zlib, no
imaging library), and optionally a broken image or an empty class folder.

    make_image_folder.py ROOT --side 28 --channels 3 --per-class 6 --classes 3
                         [--broken train/c1/broken.png] [--empty train/c9]
"""
import argparse
import os
import random
import struct
import zlib


def png(width, height, channels, pixels):
    """8-bit grey (channels 1) or RGB PNG of row-major interleaved bytes."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    colour = 0 if channels == 1 else 2
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    stride = width * channels
    raw = b"".join(b"\x00" + bytes(pixels[y * stride:(y + 1) * stride]) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) +
            chunk(b"IEND", b""))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--side", type=int, default=28)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--per-class", type=int, default=6)
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--broken", action="append", default=[])
    p.add_argument("--empty", action="append", default=[])
    a = p.parse_args()
    r = random.Random(7)
    for split, count in (("train", a.per_class), ("val", max(2, a.per_class // 2))):
        for c in range(a.classes):
            folder = os.path.join(a.root, split, f"c{c}")
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                pixels = [r.randrange(256) for _ in range(a.side * a.side * a.channels)]
                with open(os.path.join(folder, f"{i}.png"), "wb") as f:
                    f.write(png(a.side, a.side, a.channels, pixels))
    for broken in a.broken:
        path = os.path.join(a.root, broken)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + b"not really")
    for empty in a.empty:
        os.makedirs(os.path.join(a.root, empty), exist_ok=True)


if __name__ == "__main__":
    main()
