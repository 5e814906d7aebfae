#!/usr/bin/env python3
"""Checks bench/reference_clapp.py's CLAPP++ loss against METHOD.md 2 by hand, in float64.

Recomputes the loss row by row from the definitions (z_pos[r] = z[(r+B) mod N],
c[r] = z[r] detached, z_neg[r] = z_pos[(r+1) mod N]) and compares autograd's dL/dB
and dL/dz with the closed forms of METHOD.md 2 "Gradients". Run with bench/.venv/bin/python.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_clapp  # noqa: E402


def main():
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    Bimg, C, H, k = 3, 4, 6, 3
    N, D = 2 * Bimg, C * (H // k) ** 2
    # Build the reference's Block class through its module (same code path as the benchmark).
    blk_cls = reference_clapp.build_classes(torch)[0]
    blk = blk_cls(2, C, False, H, k)
    with torch.no_grad():
        blk.B.weight.mul_(30.0)  # scores of order 1, so both hinge branches are exercised
    h = torch.rand(N, C, H, H, requires_grad=True)
    loss = blk.loss(h)
    loss.backward()

    z = torch.nn.functional.avg_pool2d(h.detach(), k, k).flatten(1)
    Bm = blk.B.weight.detach()
    zpos = torch.stack([z[(r + Bimg) % N] for r in range(N)])
    zneg = torch.stack([zpos[(r + 1) % N] for r in range(N)])
    c = z
    upos = torch.stack([zpos[r] @ (Bm @ c[r]) for r in range(N)])
    uneg = torch.stack([zneg[r] @ (Bm @ c[r]) for r in range(N)])
    ref_loss = (torch.relu(1 - upos) + torch.relu(1 + uneg)).sum() / N
    gpos = -(upos < 1).double() / N
    gneg = (uneg > -1).double() / N
    dB = sum(torch.outer(gpos[r] * zpos[r] + gneg[r] * zneg[r], c[r]) for r in range(N))
    dzpos = torch.stack([gpos[s] * (Bm @ c[s]) + gneg[(s - 1) % N] * (Bm @ c[(s - 1) % N]) for s in range(N)])
    dz = torch.stack([dzpos[(q + Bimg) % N] for q in range(N)])
    dh = torch.nn.functional.interpolate(dz.view(N, C, H // k, H // k), scale_factor=k, mode="nearest") / k ** 2

    checks = {
        "loss": (loss.detach(), ref_loss),
        "dL/dB": (blk.B.weight.grad, dB),
        "dL/dh": (h.grad, dh),
    }
    # Block isolation: in the summed loss, block 1's parameters get exactly block 1's own gradient.
    Net = reference_clapp.build_classes(torch)[1]
    net = Net("fmnist")
    x = torch.randn(4, 1, 28, 28)
    losses = net(x)
    sum(losses).backward()
    g_sum = [p.grad.clone() for p in net.blocks[0].parameters()]
    net.zero_grad()
    net(x)[0].backward()
    g_own = [p.grad.clone() for p in net.blocks[0].parameters()]
    checks["block 1 gradient, summed loss vs its own loss"] = (torch.cat([g.flatten() for g in g_sum]),
                                                              torch.cat([g.flatten() for g in g_own]))

    frac = ((upos < 1).double().mean().item(), (uneg > -1).double().mean().item())
    ok = True
    for name, (a, b) in checks.items():
        err = (a - b).abs().max().item()
        good = err < 1e-10
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {name}: max abs diff {err:.2e}")
    print(f"active hinge fraction: pos {frac[0]:.2f}, neg {frac[1]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
