#!/usr/bin/env python3
"""Images/s of locus's views pipeline written the PyTorch way: a Dataset + torchvision + DataLoader.

    bench/.venv/bin/python bench/data/torch_views.py --data cifar10:DIR|stl10:DIR --workers N
        [--batch 32] [--steps S] [--warmup W] [--side S] [--input pil|tensor] [--views simclr|crop]
        [--seed 0] [--profile N]

Reads the binary files locus reads (make_files.py writes such files; the real CIFAR-10 / STL-10
binary versions work too): CIFAR-10's data_batch_1..5.bin (the training split), STL-10's
unlabeled_X.bin + train_X.bin (the pretraining set locus uses). The images are held in memory as
uint8 HxWxC, as torchvision's CIFAR10 / STL10 datasets hold them, and every __getitem__ returns
TWO views of one image, each from METHOD.md section 5's transform, as locus renders them:

    RandomResizedCrop(S, scale=(0.25, 1) CIFAR / (0.08, 1) STL, ratio=(3/4, 4/3))
    RandomHorizontalFlip(0.5)
    RandomApply([ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8)
    RandomGrayscale(0.2)
    RandomApply([GaussianBlur(odd(0.1 S), sigma=(0.1, 2.0))], p=0.5)   # kernel 3 at 32, 9 at 96
    ToTensor()
    Normalize(mean, std)          # per channel, over the same images locus normalises with

--input pil (default): each image becomes a PIL image and the transforms run on PIL (what a
PyTorch user writes, and torchvision's datasets hand out PIL images); --input tensor: ToTensor
first, then the same transforms on float tensors (torchvision's tensor kernels: what locus
reimplements). DataLoader(batch_size=B, shuffle=True, num_workers=N, drop_last=True,
persistent_workers=N > 0). --views crop: RandomResizedCrop(S, scale=(0.25, 1)) and the flip only,
as locus-data-bench's --views crop. W warm-up batches (worker start-up, first batches), then S batches
timed with perf_counter. Prints one JSON line:
    {"side": "torch", "data": ..., "workers": N, "images_per_s": X, "views_per_s": 2X, ...}

--profile N: no DataLoader; instead, in this process (one thread), each stage of the transform
is timed on N images, applied every time (its RandomApply probability 1), for PIL and for tensor
input, and one JSON line gives ms per image per stage and the expected cost per view (ms x p).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T


def load_cifar10(d):
    """Training split, uint8 [N, 32, 32, 3] (HWC, as torchvision's CIFAR10)."""
    parts = []
    b = 1
    while os.path.exists(os.path.join(d, f"data_batch_{b}.bin")):
        rec = np.fromfile(os.path.join(d, f"data_batch_{b}.bin"), dtype=np.uint8)
        if rec.size % 3073:
            sys.exit(f"torch_views.py: data_batch_{b}.bin is not whole 3073-byte records")
        parts.append(rec.reshape(-1, 3073)[:, 1:].reshape(-1, 3, 32, 32))
        b += 1
    if not parts:
        sys.exit(f"torch_views.py: no data_batch_1.bin in {d}")
    return np.ascontiguousarray(np.concatenate(parts).transpose(0, 2, 3, 1))


def load_stl10(d):
    """Pretraining set (unlabeled, then train), uint8 [N, 96, 96, 3]."""
    parts = []
    for name in ("unlabeled_X.bin", "train_X.bin"):
        raw = np.fromfile(os.path.join(d, name), dtype=np.uint8)
        if raw.size % 27648:
            sys.exit(f"torch_views.py: {name} is not whole 3x96x96 images")
        # Stored channel by channel, column-major: [N, C, x, y] -> [N, y, x, C].
        parts.append(raw.reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1))
    return np.ascontiguousarray(np.concatenate(parts))


def odd_kernel(side):
    k = int(0.1 * side)
    return max(3, k if k % 2 else k + 1)


def stages(side, scale_min, views):
    """(name, transform applied every time, probability) of each step of a view."""
    crop = [("crop", T.RandomResizedCrop(side, scale=(scale_min, 1.0), ratio=(3 / 4, 4 / 3)), 1.0),
            ("flip", T.RandomHorizontalFlip(0.5), 1.0)]
    if views == "crop":
        return crop
    return crop + [("jitter", T.ColorJitter(0.8, 0.8, 0.8, 0.2), 0.8),
                   ("grayscale", T.Grayscale(3), 0.2),
                   ("blur", T.GaussianBlur(odd_kernel(side), sigma=(0.1, 2.0)), 0.5)]


def view_transform(side, scale_min, mean, std, tensor_input, views="simclr"):
    ops = []
    for name, t, p in stages(side, scale_min, views):
        if name == "grayscale":
            ops.append(T.RandomGrayscale(p))
        elif p < 1:
            ops.append(T.RandomApply([t], p=p))
        else:
            ops.append(t)
    if tensor_input:
        return T.Compose([T.ToTensor()] + ops + [T.Normalize(mean, std)])
    return T.Compose(ops + [T.ToTensor(), T.Normalize(mean, std)])


class TwoViews(Dataset):
    def __init__(self, images, transform, tensor_input):
        self.images, self.transform, self.tensor_input = images, transform, tensor_input

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = self.images[i]
        if not self.tensor_input:
            img = Image.fromarray(img)  # ToTensor is in the transform either way
        return self.transform(img), self.transform(img)


def profile(images, side, scale_min, mean, std, views, n):
    """ms per image of each stage, in this process, PIL and tensor input."""
    torch.set_num_threads(1)
    out = {}
    for mode in ("pil", "tensor"):
        costs = {}
        chain = stages(side, scale_min, views)
        if mode == "tensor":
            chain = [("to_tensor", T.ToTensor(), 1.0)] + chain
        else:
            chain = [("to_pil", Image.fromarray, 1.0)] + chain + [("to_tensor", T.ToTensor(), 1.0)]
        chain = chain + [("normalize", T.Normalize(mean, std), 1.0)]
        data = [images[i] for i in range(min(n, len(images)))]
        for name, t, p in chain:
            for x in data[:10]:  # first calls (lazy initialisation) untimed
                t(x)
            start = time.perf_counter()
            data = [t(x) for x in data]
            costs[name] = {"ms": 1e3 * (time.perf_counter() - start) / len(data), "p": p}
        total = sum(c["ms"] * c["p"] for c in costs.values())
        out[mode] = {"stages": costs, "expected_ms_per_view": total,
                     "images_per_s_one_thread": 1e3 / (2 * total)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="cifar10:DIR or stl10:DIR")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--side", type=int, default=0, help="view side (default 32 CIFAR, 96 STL)")
    ap.add_argument("--input", choices=("pil", "tensor"), default="pil")
    ap.add_argument("--views", choices=("simclr", "crop"), default="simclr")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", type=int, default=0, metavar="N")
    a = ap.parse_args()

    kind, _, path = a.data.partition(":")
    if kind == "cifar10":
        images, scale_min, side = load_cifar10(path), 0.25, a.side or 32
    elif kind == "stl10":
        images, scale_min, side = load_stl10(path), 0.08, a.side or 96
    else:
        sys.exit(f"torch_views.py: --data {a.data}: expected cifar10:DIR or stl10:DIR")
    # Per-channel statistics of the images the views come from (locus's normalisation).
    flat = images.reshape(-1, 3).astype(np.float64) / 255.0
    mean, std = flat.mean(axis=0).tolist(), flat.std(axis=0).tolist()
    del flat
    if a.views == "crop":
        scale_min = 0.25  # locus's cropViews() whatever the data set

    if a.profile:
        torch.manual_seed(a.seed)
        print(json.dumps({"side": "torch-profile", "data": kind, "view_side": side,
                          "views": a.views, "images": a.profile,
                          **profile(images, side, scale_min, mean, std, a.views, a.profile)}))
        return

    torch.manual_seed(a.seed)
    tensor_input = a.input == "tensor"
    transform = view_transform(side, scale_min, mean, std, tensor_input, a.views)
    loader = DataLoader(TwoViews(images, transform, tensor_input), batch_size=a.batch,
                        shuffle=True, num_workers=a.workers, drop_last=True,
                        persistent_workers=a.workers > 0)
    if len(loader) == 0:
        sys.exit(f"torch_views.py: {len(images)} images, fewer than one batch of {a.batch}")

    def batches():
        while True:  # epochs, as long as asked
            yield from loader

    it = batches()
    checksum = 0.0
    for _ in range(a.warmup):
        v1, v2 = next(it)
    start = time.perf_counter()
    for _ in range(a.steps):
        v1, v2 = next(it)
        checksum += float(v1[0, 0, 0, 0]) + float(v2[0, 0, 0, 0])
    seconds = time.perf_counter() - start
    assert v1.shape == (a.batch, 3, side, side) and v2.shape == v1.shape
    ips = a.steps * a.batch / seconds
    print(json.dumps({
        "side": "torch", "data": kind, "view_side": side, "workers": a.workers,
        "batch": a.batch, "steps": a.steps, "warmup": a.warmup, "input": a.input,
        "views": a.views,
        "images_per_s": ips, "views_per_s": 2 * ips, "seconds": seconds,
        "images": len(images), "mean": mean, "std": std,
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "transform": " ".join(repr(transform).split()), "checksum": checksum,
    }), flush=True)


if __name__ == "__main__":
    main()
