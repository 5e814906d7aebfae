#!/usr/bin/env python3
"""Writes CIFAR-10- and STL-10-shaped binary files of smooth random images.

    python3 bench/data/make_files.py --out DIR [--cifar-batches 5 --cifar-per-batch 2000
        --cifar-test 1000 --stl-train 1000 --stl-unlabeled 4000 --stl-test 500 --seed 0]

DIR/cifar10/: data_batch_1..N.bin and test_batch.bin, CIFAR-10's binary version: records of
1 label byte (0-9) + 3072 bytes, the R, G and B planes of a 32x32 image, row-major.
DIR/stl10/: train_X.bin, train_y.bin (labels 1-10), test_X.bin, test_y.bin and unlabeled_X.bin,
STL-10's binary version: uint8 3x96x96 images, each stored channel by channel in column-major
order (byte c*9216 + x*96 + y is pixel (y, x) of channel c).

The images are not white noise: each is a sum of low-frequency random fields (a 4x4, an 8x8 and,
at 96x96, a 16x16 grid, bilinearly upsampled), a luminance field plus weaker colour fields, with a
random brightness and contrast, and a little pixel noise. So crops, colour jitter, grayscale and
blur work on content with the smooth structure and correlated channels of photographs. Seeded:
the same arguments give the same bytes. numpy only.
"""
import argparse
import os
import sys

import numpy as np


def upsample_matrix(side, grid):
    """(side, grid) bilinear interpolation matrix (half-pixel centres, edges clamped)."""
    m = np.zeros((side, grid), dtype=np.float32)
    for i in range(side):
        src = min(max((i + 0.5) * grid / side - 0.5, 0.0), grid - 1.0)
        lo = int(np.floor(src))
        hi = min(lo + 1, grid - 1)
        w = src - lo
        m[i, lo] += 1.0 - w
        m[i, hi] += w
    return m


def smooth_images(rng, count, side):
    """count smooth random RGB images, uint8 [count, 3, side, side] (channel, row, column)."""
    grids = [(4, 1.0), (8, 0.5)] + ([(16, 0.25)] if side >= 64 else [])
    # Luminance and two chroma fields per octave; chroma weaker, so channels correlate.
    lum = np.zeros((count, side, side), dtype=np.float32)
    chroma = np.zeros((count, 2, side, side), dtype=np.float32)
    for grid, amp in grids:
        u = upsample_matrix(side, grid)
        coarse = rng.standard_normal((count, 3, grid, grid), dtype=np.float32)
        field = np.einsum("yi,ncij,xj->ncyx", u, coarse, u, optimize=True)
        lum += amp * field[:, 0]
        chroma += 0.45 * amp * field[:, 1:]
    # Opponent colours -> RGB, plus a per-image tint.
    tint = rng.normal(0.0, 0.3, (count, 3, 1, 1)).astype(np.float32)
    r = lum + 0.8 * chroma[:, 0] + 0.3 * chroma[:, 1]
    g = lum - 0.6 * chroma[:, 0] + 0.3 * chroma[:, 1]
    b = lum - 0.2 * chroma[:, 0] - 0.9 * chroma[:, 1]
    rgb = np.stack([r, g, b], axis=1) + tint
    # Per-image brightness and contrast, then a little pixel noise.
    std = rgb.reshape(count, -1).std(axis=1).reshape(count, 1, 1, 1) + 1e-6
    contrast = rng.uniform(30.0, 70.0, (count, 1, 1, 1)).astype(np.float32)
    mean = rng.uniform(70.0, 180.0, (count, 1, 1, 1)).astype(np.float32)
    rgb = mean + contrast * (rgb - rgb.mean(axis=(1, 2, 3), keepdims=True)) / std
    rgb += rng.normal(0.0, 3.0, rgb.shape).astype(np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def chunks(total, size=500):
    start = 0
    while start < total:
        yield min(size, total - start)
        start += size


def write_cifar_batch(path, rng, count):
    with open(path, "wb") as f:
        for n in chunks(count):
            images = smooth_images(rng, n, 32)  # [n, 3, 32, 32]: R, G, B planes row-major
            records = np.empty((n, 1 + 3072), dtype=np.uint8)
            records[:, 0] = rng.integers(0, 10, n, dtype=np.uint8)
            records[:, 1:] = images.reshape(n, 3072)
            f.write(records.tobytes())


def write_stl_images(path, rng, count):
    with open(path, "wb") as f:
        for n in chunks(count):
            images = smooth_images(rng, n, 96)  # [n, c, y, x]
            f.write(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())  # column-major


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--cifar-batches", type=int, default=5)
    ap.add_argument("--cifar-per-batch", type=int, default=2000)
    ap.add_argument("--cifar-test", type=int, default=1000)
    ap.add_argument("--stl-train", type=int, default=1000)
    ap.add_argument("--stl-unlabeled", type=int, default=4000)
    ap.add_argument("--stl-test", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.cifar_batches < 1:
        sys.exit("make_files.py: --cifar-batches must be at least 1")

    cifar = os.path.join(a.out, "cifar10")
    stl = os.path.join(a.out, "stl10")
    os.makedirs(cifar, exist_ok=True)
    os.makedirs(stl, exist_ok=True)
    # One generator per file, so each file depends only on the seed and its own size.
    def rng_for(k):
        return np.random.default_rng([a.seed, k])

    for b in range(1, a.cifar_batches + 1):
        write_cifar_batch(os.path.join(cifar, f"data_batch_{b}.bin"), rng_for(b), a.cifar_per_batch)
    write_cifar_batch(os.path.join(cifar, "test_batch.bin"), rng_for(100), a.cifar_test)

    for k, (split, n) in enumerate([("train", a.stl_train), ("test", a.stl_test),
                                    ("unlabeled", a.stl_unlabeled)]):
        rng = rng_for(200 + k)
        write_stl_images(os.path.join(stl, f"{split}_X.bin"), rng, n)
        if split != "unlabeled":
            rng.integers(1, 11, n, dtype=np.uint8).tofile(os.path.join(stl, f"{split}_y.bin"))

    print(f"make_files.py: {a.cifar_batches * a.cifar_per_batch} + {a.cifar_test} CIFAR-10 images "
          f"in {cifar}; {a.stl_train} + {a.stl_unlabeled} + {a.stl_test} STL-10 images in {stl}")


if __name__ == "__main__":
    main()
