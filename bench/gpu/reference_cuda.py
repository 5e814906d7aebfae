#!/usr/bin/env python3
"""GPU timing of PyTorch implementations of the CLAPP++ family (METHOD.md 1, 2, 4).

VGG-6 at STL-10 shape: input 3x96x96, blocks [128] [256,M] [256] [512,M] [1024,M] [1024,M]
(conv3x3 pad 1 with bias, relu, maxpool 2x2), loss pools 12-12-12-6-6-3, so
D_l = 8192 4096 4096 8192 4096 4096. Batch B images -> N = 2B rows (view 2 = flip of view 1,
random fixed data). AdamW lr 2e-4, weight decay 0, over the convs and the B matrices.

rules: clapp++ (B^l D_l x D_l, context stopgrad z^l), dfb (B^l D_l x D_L, context stopgrad z^L
       of the same step), both (sum of the two, two matrices), bp-clapp++ (loss on the top block
       only, gradient end to end).
impls: official (all block losses summed, one backward, block inputs detached),
       careful (block by block: forward, loss, backward, AdamW step of that block, free its graph),
       compile (torch.compile of the official model; clapp++ only),
       floor (only the unavoidable convolutions: per block conv forward + weight/bias gradient).
precisions: tf32 (fp32 tensors, TF32 matmul/conv), bf16 (autocast, fp32 master weights),
       fp32 (TF32 off; not in the default set). Channels-last everywhere.

One JSON line per config on stdout, then a table. --self-check: float64 CPU check that careful
and official give the same parameter gradients. --device cpu --side 32 --channels-scale 16 is a
tiny CPU smoke test of every code path.
"""
import argparse
import contextlib
import copy
import gc
import json
import math
import statistics
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

SPEC = [(128, False), (256, True), (256, False), (512, True), (1024, True), (1024, True)]
GRID = [8, 4, 4, 4, 2, 2]  # side of each loss-pooled map; k_l = side_l / GRID_l (12-12-12-6-6-3 at 96)
RULES = ["clapp++", "dfb", "both", "bp-clapp++"]
IMPLS = {"clapp++": ["official", "careful", "compile"], "dfb": ["official", "careful"],
         "both": ["official", "careful"], "bp-clapp++": ["official"]}
ALL_IMPLS = ["floor", "official", "careful", "compile"]
CL = torch.channels_last
GIB = 2.0 ** 30


def hinge(z, bc):
    """(1/N) sum_r relu(1 - z_pos[r].Bc[r]) + relu(1 + z_neg[r].Bc[r]), next-index negatives."""
    z_pos = torch.roll(z, -(z.shape[0] // 2), 0)  # z_pos[r] = z[(r + B) mod N]
    z_neg = torch.roll(z_pos, -1, 0)               # z_neg[r] = z_pos[(r + 1) mod N]
    return (F.relu(1 - (z_pos * bc).sum(1)) + F.relu(1 + (z_neg * bc).sum(1))).mean()


class Block(nn.Module):
    """conv3x3 (bias) -> relu -> [maxpool 2x2]; `pooled` is the loss pooling z^l."""

    def __init__(self, c_in, c_out, pool, k):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=1, padding=1, bias=True)
        self.pool, self.k = pool, k

    def forward(self, x):
        h = F.relu(self.conv(x))
        return F.max_pool2d(h, 2, 2) if self.pool else h

    def pooled(self, h):
        return torch.flatten(F.avg_pool2d(h, self.k, self.k), 1)  # (N, D), channel-major


def net_shapes(side, scale):
    """[(c_in, c_out, pool, side_in, k, D)] per block; side must be a multiple of 32."""
    if side % 32:
        raise SystemExit("--side must be a multiple of 32 (the loss grids 8-4-4-4-2-2 must fit)")
    out, c = [], 3
    for (c_out, pool), g in zip(SPEC, GRID):
        c_out = max(1, c_out // scale)
        s_out = side // 2 if pool else side
        out.append((c, c_out, pool, side, s_out // g, c_out * g * g))
        c, side = c_out, s_out
    return out


class Net(nn.Module):
    def __init__(self, rule, side, scale):
        super().__init__()
        shapes = net_shapes(side, scale)
        self.blocks = nn.ModuleList(Block(ci, co, p, k) for ci, co, p, _, k, _ in shapes)
        dims = [s[-1] for s in shapes]
        lat, fb = rule in ("clapp++", "both"), rule in ("dfb", "both")
        # nn.Linear(in=D_ctx, out=D_l) holds B^l (D_l x D_ctx): bc = B c
        self.B_lat = nn.ModuleList(nn.Linear(d, d, bias=False) for d in dims) if lat else None
        self.B_fb = nn.ModuleList(nn.Linear(dims[-1], d, bias=False) for d in dims) if fb else None
        self.B_top = nn.Linear(dims[-1], dims[-1], bias=False) if rule == "bp-clapp++" else None

    def block_loss(self, l, h, ctx):
        z = self.blocks[l].pooled(h)
        loss = 0
        if self.B_lat is not None:
            loss = loss + hinge(z, self.B_lat[l](z.detach()))
        if self.B_fb is not None:
            loss = loss + hinge(z, self.B_fb[l](ctx))
        return loss

    def block_params(self, l):
        ps = list(self.blocks[l].parameters())
        for Bs in (self.B_lat, self.B_fb):
            if Bs is not None:
                ps += list(Bs[l].parameters())
        return ps

    @torch.no_grad()
    def context(self, x):
        """Detached pooled top-block output z^L (the DFB context), without keeping a graph."""
        for blk in self.blocks:
            x = blk(x)
        return self.blocks[-1].pooled(x)

    def forward(self, x):
        """Official step model: every block loss summed; returns the total loss."""
        if self.B_top is not None:  # bp-clapp++: no detaching, loss on the top block only
            for blk in self.blocks:
                x = blk(x)
            z = self.blocks[-1].pooled(x)
            return hinge(z, self.B_top(z.detach()))
        hs = []
        for blk in self.blocks:
            x = blk(x.detach())  # no gradient crosses blocks
            hs.append(x)
        ctx = self.blocks[-1].pooled(hs[-1]).detach() if self.B_fb is not None else None
        return sum(self.block_loss(l, h, ctx) for l, h in enumerate(hs))


def careful_step(net, x, ac, opts=None):
    """Block by block: forward, loss, backward (and the block's AdamW step); only the detached
    output goes on, so one block's graph is alive at a time. Returns the summed loss (detached)."""
    ctx = None
    if net.B_fb is not None:  # the DFB context needs the top block first: a no-grad pass
        with ac():
            ctx = net.context(x)
    total = 0
    for l, blk in enumerate(net.blocks):
        with ac():
            h = blk(x)
            loss = net.block_loss(l, h, ctx)
        loss.backward()
        if opts is not None:  # same math as one step at the end: block l's params see only L^l
            opts[l].step()
            opts[l].zero_grad(set_to_none=True)
        total = total + loss.detach()
        x = h.detach()
        del h, loss
    return total


def make_data(batch, side, seed, device, dtype=torch.float32, count=2):
    """`count` fixed batches [view1; flip(view1)] of N = 2*batch rows, channels-last."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        img = (torch.rand((batch, 3, side, side), generator=gen, dtype=dtype) - 0.5) / 0.25
        x = torch.cat([img, torch.flip(img, dims=[3])], 0)
        out.append(x.to(device).contiguous(memory_format=CL))
    return out


def autocast_ctx(prec, device):
    if prec == "bf16":
        return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def set_precision(prec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.cuda.matmul.allow_tf32 = prec != "fp32"
        torch.backends.cudnn.allow_tf32 = prec != "fp32"


def build_step(rule, impl, prec, args, device):
    """Returns (step(x) -> detached loss or None, parameter count)."""
    ac = autocast_ctx(prec, device)
    if impl == "floor":  # conv forward + weight/bias gradient per block, prepared tensors, nothing else
        dt = torch.bfloat16 if prec == "bf16" else torch.float32
        n = 2 * args.batch_now
        g = torch.Generator(device=device).manual_seed(args.seed)
        xs, ws, bs = [], [], []
        for ci, co, _, s, _, _ in net_shapes(args.side, args.channels_scale):
            xs.append(torch.randn(n, ci, s, s, device=device, dtype=dt, generator=g).contiguous(memory_format=CL))
            ws.append((0.05 * torch.randn(co, ci, 3, 3, device=device, dtype=dt, generator=g)).contiguous(memory_format=CL))
            bs.append(torch.zeros(co, device=device, dtype=dt))

        def step(_x):
            for x, w, b in zip(xs, ws, bs):
                y = F.conv2d(x, w, b, 1, 1)
                # the conv output stands in for the gradient (same shape, no extra tensor kept)
                torch.ops.aten.convolution_backward(y, x, w, [w.shape[0]], [1, 1], [1, 1], [1, 1],
                                                    False, [0, 0], 1, [False, True, True])
            return None
        return step, sum(w.numel() + b.numel() for w, b in zip(ws, bs))

    torch.manual_seed(args.seed)  # same init for every impl of a rule
    with torch.device(device):
        net = Net(rule, args.side, args.channels_scale)
    net = net.to(memory_format=CL)
    n_params = sum(p.numel() for p in net.parameters())
    adamw = lambda ps: torch.optim.AdamW(ps, lr=args.lr, weight_decay=args.weight_decay)
    if impl == "careful":
        opts = [adamw(net.block_params(l)) for l in range(len(net.blocks))]
        return (lambda x: careful_step(net, x, ac, opts)), n_params
    opt = adamw(net.parameters())
    model = torch.compile(net, mode=args.compile_mode) if impl == "compile" else net

    def step(x):
        opt.zero_grad(set_to_none=True)
        with ac():
            loss = model(x)
        loss.backward()
        opt.step()
        return loss.detach()
    return step, n_params


def measure(cfg, args, device):
    rule, impl, prec, batch = cfg
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    set_precision(prec)
    args.batch_now = batch
    step, n_params = build_step(rule, impl, prec, args, device)
    data = make_data(batch, args.side, args.seed, device)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated() if cuda else None
    first = last = None
    t0 = time.perf_counter()
    for i in range(args.warmup):
        loss = step(data[i % len(data)])
        if i == 0 and loss is not None:
            first = loss.item()
    sync()
    t1 = time.perf_counter()
    if cuda:  # steady-state peak over the timed steps; the overall peak is the max of both
        warm_alloc, warm_res = torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()
        torch.cuda.reset_peak_memory_stats()
        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(args.steps)]
    for i in range(args.steps):
        if cuda:
            ev[i][0].record()
        loss = step(data[(args.warmup + i) % len(data)])
        if cuda:
            ev[i][1].record()
        if first is None and loss is not None:
            first = loss.item()
    sync()
    t2 = time.perf_counter()
    if loss is not None:
        last = loss.item()
    ms = 1e3 * (t2 - t1) / max(args.steps, 1)
    r = dict(ms_per_step=ms, img_per_s=batch / ms * 1e3 if args.steps else None,
             ms_median=statistics.median(a.elapsed_time(b) for a, b in ev) if cuda and args.steps else None,
             warmup_s=t1 - t0, first_loss=first, final_loss=last, params=n_params,
             finite=all(v is None or math.isfinite(v) for v in (first, last)))
    if cuda:
        steady_alloc, steady_res = torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()
        r.update(base_alloc_gib=base / GIB, steady_alloc_gib=steady_alloc / GIB,
                 peak_alloc_gib=max(warm_alloc, steady_alloc) / GIB,
                 peak_reserved_gib=max(warm_res, steady_res) / GIB)
    return r


def free_memory(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def run_config(cfg, args, device):
    rule, impl, prec, batch = cfg
    res = dict(rule=rule, impl=impl, precision=prec, batch=batch, rows=2 * batch, side=args.side,
               channels_scale=args.channels_scale, warmup=args.warmup, steps=args.steps, status="ok")
    try:
        res.update(measure(cfg, args, device))
    except Exception as e:  # an OOM or a compile failure must not end the run
        res["status"] = "n/a" if impl == "compile" else "error"
        res["error"] = f"{type(e).__name__}: {e}"[:2000]
    if impl == "compile":
        torch._dynamo.reset()
    free_memory(device)
    return res


def configs(args):
    pick = lambda s, allowed: [v for v in s.split(",") if v] if s else list(allowed)
    rules, impls = pick(args.rules, RULES), pick(args.impls, ALL_IMPLS)
    precs, batches = pick(args.precisions, ["tf32", "bf16"]), [int(b) for b in pick(args.batches, ["32", "128"])]
    for name, vals, allowed in (("rule", rules, RULES), ("impl", impls, ALL_IMPLS),
                                ("precision", precs, ["tf32", "bf16", "fp32"])):
        bad = [v for v in vals if v not in allowed]
        if bad:
            raise SystemExit(f"unknown {name}(s) {bad}; choose from {allowed}")
    main_cfgs, compiled = [], []  # compile configs last: a budget cut drops them first
    for b in batches:
        for p in precs:
            if "floor" in impls:
                main_cfgs.append(("conv", "floor", p, b))
            for r in rules:
                for i in IMPLS[r]:
                    if i in impls:
                        (compiled if i == "compile" else main_cfgs).append((r, i, p, b))
    return main_cfgs + compiled


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def summary(results):
    ok = [r for r in results if r["status"] == "ok"]
    floor = {(r["precision"], r["batch"]): r["ms_per_step"] for r in ok if r["impl"] == "floor"}
    careful = {(r["rule"], r["precision"], r["batch"]): r.get("peak_alloc_gib") for r in ok if r["impl"] == "careful"}
    print("\n%-11s %-8s %-5s %5s %9s %8s %9s %9s %8s %9s" % (
        "rule", "impl", "prec", "batch", "ms/step", "img/s", "peakGiB", "steadyGiB", "ms/floor", "peak/care"))
    for r in results:
        if r["status"] != "ok":
            print("%-11s %-8s %-5s %5d  %s %s" % (r["rule"], r["impl"], r["precision"], r["batch"],
                                                   r["status"], r.get("error", "").splitlines()[0][:90] if r.get("error") else ""))
            continue
        key = (r["precision"], r["batch"])
        fl = floor.get(key)
        cref = careful.get(("clapp++" if r["rule"] == "bp-clapp++" else r["rule"],) + key)
        pk = r.get("peak_alloc_gib")
        print("%-11s %-8s %-5s %5d %9.2f %8.0f %9s %9s %8s %9s" % (
            r["rule"], r["impl"], r["precision"], r["batch"], r["ms_per_step"], r["img_per_s"] or 0,
            fmt(pk, ".3f"), fmt(r.get("steady_alloc_gib"), ".3f"),
            fmt(r["ms_per_step"] / fl if fl else None, ".2f"),
            fmt(pk / cref if pk is not None and cref and r["impl"] != "floor" else None, ".2f")))
    print("ms/floor: vs the floor of the same precision and batch; peak/care: peak alloc vs careful "
          "of the same rule, precision, batch (bp-clapp++: vs clapp++ careful)")
    # checks: same first-step loss across impls of a rule (same seed, same init, same data)
    tol = {"bf16": 2e-2, "tf32": 2e-3, "fp32": 1e-5}
    offi = {(r["rule"], r["precision"], r["batch"]): r["first_loss"] for r in ok if r["impl"] == "official"}
    for r in ok:
        ref = offi.get((r["rule"], r["precision"], r["batch"]))
        if r["impl"] in ("careful", "compile") and ref is not None and r["first_loss"] is not None:
            rel = abs(r["first_loss"] - ref) / max(abs(ref), 1e-30)
            print(f"check first-step loss {r['rule']} {r['impl']} vs official ({r['precision']}, B={r['batch']}): "
                  f"{r['first_loss']:.8g} vs {ref:.8g}, rel diff {rel:.2e} -> "
                  f"{'OK' if rel <= tol[r['precision']] else 'MISMATCH'}")
    bad = [f"{r['rule']}/{r['impl']}" for r in ok if not r["finite"]]
    print("all losses finite" if not bad else f"NON-FINITE losses: {bad}")


def self_check(args):
    """float64, CPU: careful (block by block) and official (summed) give the same gradients."""
    torch.set_default_dtype(torch.float64)
    x = make_data(3, 32, args.seed, torch.device("cpu"), torch.float64, count=1)[0]
    worst_all = 0.0
    for rule in ("clapp++", "dfb", "both"):
        torch.manual_seed(args.seed)
        net_a = Net(rule, 32, 16).to(memory_format=CL)
        net_b = copy.deepcopy(net_a)
        loss_a = net_a(x)
        loss_a.backward()
        loss_a = loss_a.detach()
        loss_b = careful_step(net_b, x, contextlib.nullcontext)
        worst, missing = 0.0, 0
        for (name, pa), pb in zip(net_a.named_parameters(), net_b.parameters()):
            if pa.grad is None or pb.grad is None or not pa.grad.abs().max() > 0:
                missing += 1
                continue
            worst = max(worst, float((pa.grad - pb.grad).abs().max() / pa.grad.abs().max()))
        ok = worst < 1e-10 and missing == 0 and abs(float(loss_a) - float(loss_b)) < 1e-12
        worst_all = max(worst_all, worst if missing == 0 else float("inf"))
        print(json.dumps(dict(self_check=rule, loss_official=float(loss_a), loss_careful=float(loss_b),
                              max_rel_grad_diff=worst, params_without_grad=missing, ok=ok)), flush=True)
    print("self-check", "PASSED" if worst_all < 1e-10 else "FAILED")
    return 0 if worst_all < 1e-10 else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", default="", help=f"comma list of {RULES} (default all)")
    p.add_argument("--impls", default="", help=f"comma list of {ALL_IMPLS} (default all)")
    p.add_argument("--precisions", default="", help="comma list of tf32,bf16,fp32 (default tf32,bf16)")
    p.add_argument("--batches", default="", help="comma list of batch sizes in images (default 32,128)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per config")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per config (compile happens here)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--side", type=int, default=96, help="input side, multiple of 32 (96 = STL-10)")
    p.add_argument("--channels-scale", type=int, default=1, help="divide every block's channels by this")
    p.add_argument("--budget-s", type=float, default=0, help="skip the configs left once this many s passed (0: none)")
    p.add_argument("--compile-mode", default=None, help="torch.compile mode (default: torch's default)")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json-out", default="", help="write every result (and the environment) to this file")
    p.add_argument("--self-check", action="store_true", help="float64 CPU gradient check, then exit")
    args = p.parse_args(argv)
    if args.self_check:
        return self_check(args)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available (use --device cpu for a smoke test)")
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    env = dict(device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
               torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
               cudnn_benchmark=args.cudnn_benchmark, side=args.side, channels_scale=args.channels_scale,
               D=[s[-1] for s in net_shapes(args.side, args.channels_scale)],
               loss_pools=[s[4] for s in net_shapes(args.side, args.channels_scale)],
               steps=args.steps, warmup=args.warmup)
    print(json.dumps({"env": env}), flush=True)
    t_start, results = time.perf_counter(), []
    for cfg in configs(args):
        if args.budget_s and time.perf_counter() - t_start > args.budget_s:
            res = dict(rule=cfg[0], impl=cfg[1], precision=cfg[2], batch=cfg[3], status="skipped",
                       error=f"time budget {args.budget_s:g} s exceeded")
        else:
            res = run_config(cfg, args, device)
        results.append(res)
        print(json.dumps(res), flush=True)
    summary(results)
    print(f"total wall {time.perf_counter() - t_start:.1f} s", flush=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(dict(env=env, results=results), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
