"""Redoes locus's views with torchvision's functional transforms, from the
draws locus made, and prints how far apart they are.

    build/bin/locus-data-bench --data cifar10:DIR --side 32 --channels 3 --dump OUT
    bench/.venv/bin/python bench/data/check_views.py OUT --side 32

For each view row: the source image, crop window, flip, colour jitter factors
in their order, grayscale, blur sigma (draws.jsonl); torchvision computes
F.resized_crop (bilinear, antialias off: every crop here is upsampled, where
antialiasing does nothing), F.hflip, F.adjust_brightness / contrast /
saturation / hue, F.rgb_to_grayscale, F.gaussian_blur and F.normalize on the
float tensor, and the result is compared with views.f32. Exit 1 if any view
differs by more than --atol.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dump")
    p.add_argument("--side", type=int, required=True)
    p.add_argument("--atol", type=float, default=1e-4)
    a = p.parse_args()
    draws = [json.loads(line) for line in open(os.path.join(a.dump, "draws.jsonl"))]
    sources = np.fromfile(os.path.join(a.dump, "sources.u8"), np.uint8)
    views = np.fromfile(os.path.join(a.dump, "views.f32"), "<f4")
    s = a.side
    at, worst, worst_row = 0, 0.0, -1
    counts = {"jitter": 0, "grayscale": 0, "blur": 0, "flip": 0}
    for row, d in enumerate(draws):
        c, h, w = d["channels"], d["height"], d["width"]
        img = torch.from_numpy(sources[at:at + c * h * w].reshape(c, h, w).astype(np.float32) / 255)
        at += c * h * w
        top, left, ch, cw = d["crop"]
        x = F.resized_crop(img, top, left, ch, cw, [s, s], InterpolationMode.BILINEAR,
                           antialias=False)
        if d["flip"]:
            x = F.hflip(x)
        if d["jitter"]:
            for fn in d["order"]:
                if fn == 0:
                    x = F.adjust_brightness(x, d["brightness"])
                elif fn == 1:
                    x = F.adjust_contrast(x, d["contrast"])
                elif fn == 2 and c == 3:
                    x = F.adjust_saturation(x, d["saturation"])
                elif fn == 3 and c == 3:
                    x = F.adjust_hue(x, d["hue"])
        if d["grayscale"] and c == 3:
            x = F.rgb_to_grayscale(x, num_output_channels=3)
        if d["blur"]:
            x = F.gaussian_blur(x, [d["kernel"], d["kernel"]], [d["sigma"], d["sigma"]])
        x = F.normalize(x, d["mean"], d["std"])
        mine = views[row * c * s * s:(row + 1) * c * s * s].reshape(c, s, s)
        err = float(np.abs(x.numpy() - mine).max())
        for k in counts:
            counts[k] += bool(d[k])
        if err > worst:
            worst, worst_row = err, row
    print(f"{len(draws)} views of {s}x{s}: largest |torchvision - locus| = {worst:.3g} "
          f"(row {worst_row}); jitter in {counts['jitter']}, grayscale in {counts['grayscale']}, "
          f"blur in {counts['blur']}, flip in {counts['flip']}")
    if worst > a.atol:
        print(f"check_views: FAIL: above --atol {a.atol}")
        sys.exit(1)
    print("check_views: ok")


if __name__ == "__main__":
    main()
