#!/usr/bin/env python3
"""PyTorch reference of CLAPP++ training (METHOD.md sections 1, 2, 4, 5), for timing.

Written the way a PyTorch user writes it, as the official code does: one module per
block, each block's input detached, the block losses summed, one backward, one AdamW
(lr 2e-4, weight decay 0) over every conv and every B^l.

Networks (batch B images -> N = 2B rows, the two views stacked):
  fmnist       1x28x28,  blocks [128,M] [256,M],                               loss pools 7-7
  vgg6-cifar   3x32x32,  blocks [128] [256,M] [256] [512,M] [1024,M] [1024,M], loss pools 4-4-4-2-2-1

The data are random images made from a fixed seed (augmentation is not timed): for
each of a few prepared batches, view 1 is the image and view 2 its horizontal flip.

Prints one JSON line: steps_per_s over the timed steps (after --warmup untimed
steps), peak RSS (getrusage ru_maxrss, bytes), the final loss, and what BLAS /
threading torch runs with.
"""
import argparse
import json
import os
import re
import resource
import sys
import time

NETS = {
    # name: (input (C, H, W), blocks [(out_channels, maxpool)], loss pool kernels)
    "fmnist": ((1, 28, 28), [(128, True), (256, True)], [7, 7]),
    "vgg6-cifar": ((3, 32, 32),
                   [(128, False), (256, True), (256, False), (512, True), (1024, True), (1024, True)],
                   [4, 4, 4, 2, 2, 1]),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", choices=sorted(NETS), default="fmnist")
    p.add_argument("--batch-size", type=int, default=32, help="images per step (N = 2B rows)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed training steps before the timed ones")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = torch's default)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--weight-decay", type=float, default=0.0)
    return p.parse_args(argv)


def rss_now_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return -1


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def build_classes(torch):
    """The reference's modules (torch is imported by main, after the thread variables are set)."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        """conv3x3 (bias) -> relu -> [maxpool 2x2], plus its CLAPP++ loss (METHOD.md 2)."""

        def __init__(self, c_in, c_out, pool, side_out, k):
            super().__init__()
            self.conv = nn.Conv2d(c_in, c_out, 3, stride=1, padding=1, bias=True)
            self.pool = pool
            self.k = k
            d = c_out * (side_out // k) ** 2
            self.B = nn.Linear(d, d, bias=False)  # trainable D x D, no bias

        def forward(self, x):
            h = F.relu(self.conv(x))
            if self.pool:
                h = F.max_pool2d(h, 2, 2)
            return h

        def loss(self, h):
            z = torch.flatten(F.avg_pool2d(h, self.k, self.k), 1)  # (N, D), channel-major
            n = z.shape[0]
            half = n // 2
            z_pos = torch.roll(z, -half, 0)      # z_pos[r] = z[(r + B) mod N]
            z_neg = torch.roll(z_pos, -1, 0)     # z_neg[r] = z_pos[(r + 1) mod N]
            bc = self.B(z.detach())              # B c[r], c[r] = stopgrad(z[r])
            u_pos = (z_pos * bc).sum(1)
            u_neg = (z_neg * bc).sum(1)
            return (F.relu(1 - u_pos) + F.relu(1 + u_neg)).mean()

    class Net(nn.Module):
        def __init__(self, name):
            super().__init__()
            (c, side, _), spec, kernels = NETS[name]
            blocks = []
            for (c_out, pool), k in zip(spec, kernels):
                side = side // 2 if pool else side
                blocks.append(Block(c, c_out, pool, side, k))
                c = c_out
            self.blocks = nn.ModuleList(blocks)

        def forward(self, x):
            losses = []
            h = x
            for blk in self.blocks:
                h = blk(h.detach())  # no gradient crosses blocks
                losses.append(blk.loss(h))
            return losses

    return Block, Net


def main(argv=None):
    args = parse_args(argv)
    if args.threads > 0:
        # Before torch loads its OpenMP / BLAS runtimes.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    rss_after_import = rss_now_bytes()

    Block, Net = build_classes(torch)

    torch.manual_seed(args.seed)
    net = Net(args.net)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    n_params = sum(p.numel() for p in net.parameters())

    # A few fixed batches of two views each, made before any step (not timed).
    shape = NETS[args.net][0]
    gen = torch.Generator().manual_seed(args.seed)
    batches = []
    for _ in range(4):
        img = torch.rand((args.batch_size,) + shape, generator=gen)
        img = (img - 0.5) / 0.25
        batches.append(torch.cat([img, torch.flip(img, dims=[3])], 0).contiguous())
    rss_before_train = rss_now_bytes()

    def step(i):
        opt.zero_grad(set_to_none=True)
        losses = net(batches[i % len(batches)])
        total = sum(losses)
        total.backward()
        opt.step()
        return total, losses

    t0 = time.perf_counter()
    total, losses = None, []
    for i in range(args.warmup):
        total, losses = step(i)
    t1 = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        total, losses = step(i)
    t2 = time.perf_counter()

    info = {
        "impl": "pytorch",
        "net": args.net,
        "batch_size": args.batch_size,
        "rows": 2 * args.batch_size,
        "warmup": args.warmup,
        "steps": args.steps,
        "threads": torch.get_num_threads(),
        "steps_per_s": (args.steps / (t2 - t1)) if args.steps > 0 else None,
        "timed_s": t2 - t1,
        "warmup_s": t1 - t0,
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_after_import_bytes": rss_after_import,
        "rss_before_train_bytes": rss_before_train,
        "final_loss": float(total.detach()) if total is not None else None,
        "final_block_losses": [float(l.detach()) for l in losses],
        "params": n_params,
        "torch": torch.__version__,
        "blas": blas_info(torch),
    }
    print(json.dumps(info), flush=True)


def blas_info(torch):
    out = {}
    cfg = torch.__config__.show()  # "Build settings: KEY=VALUE, KEY=VALUE, ..."
    for key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP"):
        m = re.search(r"\b" + key + r"=([^,\s]*)", cfg)
        if m:
            out[key] = m.group(1)
    try:
        out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except Exception:
        pass
    out["mkldnn"] = bool(torch.backends.mkldnn.is_available())
    out["mkl"] = bool(torch.backends.mkl.is_available())
    try:
        from threadpoolctl import threadpool_info
        out["threadpools"] = [
            {k: v for k, v in d.items() if k in ("internal_api", "prefix", "version", "num_threads",
                                                   "threading_layer", "architecture", "filepath")}
            for d in threadpool_info()
        ]
    except ImportError:
        out["threadpools"] = "threadpoolctl not installed"
    return out


if __name__ == "__main__":
    sys.exit(main())
