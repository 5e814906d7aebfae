#!/usr/bin/env python3
"""Prints the 1-D maps of Winograd F(m x m, 3x3) as the C++ axis structs of WinogradF7.cpp.

Toom-Cook from m + 1 finite points and infinity (Lavin and Gray's construction), in exact
rationals (sympy), rounded once to float:
  A^T [m x n]: A^T[i][j] = p_j^i, the infinity column e_{m-1};
  G [n x 3]:   G[j][i] = p_j^i / prod_{k != j} (p_j - p_k), the infinity row e_2;
  B^T [n x n]: row j the coefficients of M(x) / (x - p_j), the infinity row M(x)'s,
with M(x) = prod_j (x - p_j). Then Y = A^T [(G g G^T) .* (B^T d B)] A is the 3x3 correlation
of the n x n patch d with g. Also prints the float32 error of one 128-channel tile sum against
float64 (--check), the measure WinogradF7.cpp quotes.

  python3 runtime/src/backend/cpu/tools/winograd_maps.py [--check]
"""
import re
import sys
from fractions import Fraction as F

import numpy as np
import sympy as sp

M_TILE = 7
POINTS = [0, 1, -1, F(1, 2), F(-1, 2), 2, -2, F(3, 4)]


def matrices(m, r, pts):
    n = m + r - 1
    P = [sp.Rational(p) for p in pts]
    x = sp.symbols("x")
    AT = sp.zeros(m, n)
    for i in range(m):
        for j, p in enumerate(P):
            AT[i, j] = p**i
    AT[m - 1, n - 1] = 1
    G = sp.zeros(n, r)
    for j, p in enumerate(P):
        denom = 1
        for k, q in enumerate(P):
            if k != j:
                denom *= p - q
        for i in range(r):
            G[j, i] = p**i / denom
    G[n - 1, r - 1] = 1
    M = 1
    for p in P:
        M *= x - p
    BT = sp.zeros(n, n)
    for j, p in enumerate(P):
        for i, c in enumerate(sp.Poly(sp.expand(sp.cancel(M / (x - p))), x).all_coeffs()[::-1]):
            BT[j, i] = c
    for i, c in enumerate(sp.Poly(sp.expand(M), x).all_coeffs()[::-1]):
        BT[n - 1, i] = c
    return AT, G, BT


def literal(c):
    v = float(c)
    s = repr(v) if float(np.float32(v)) == v else "%.9g" % v
    if "e" not in s and "." not in s:
        s += ".0"
    return s + "f"


def wrap(line, width=100, indent="        "):
    if len(line) <= width:
        return [line]
    head, expr = re.match(r"(\s*o\[\d\] = )(.*)", line).groups()
    tokens = re.split(r"( [+-] )", expr)
    lines, cur = [], head + tokens[0]
    for k in range(1, len(tokens), 2):
        piece = tokens[k] + tokens[k + 1]
        if len(cur) + len(piece) > width:
            lines.append(cur)
            cur = indent + piece.strip()
        else:
            cur += piece
    return lines + [cur]


def axis(name, M, doc):
    rows, cols = M.shape
    out = [f"/// {doc}", f"struct {name} {{",
           f"  template <class V> static LOCUS_ALWAYS_INLINE void apply(const V (&i)[{cols}], V (&o)[{rows}]) {{"]
    for r in range(rows):
        expr = ""
        for c in range(cols):
            v = M[r, c]
            if v == 0:
                continue
            neg = v < 0
            term = f"i[{c}]" if abs(v) == 1 else f"{literal(abs(v))} * i[{c}]"
            if not expr:
                expr = ("-" if neg else "") + term
            else:
                expr += (" - " if neg else " + ") + term
        out += wrap(f"    o[{r}] = {expr or 'V(0.0f)'};")
    return "\n".join(out + ["  }", "};"])


def check(AT, G, BT, channels=128, trials=50):
    AT, G, BT = (np.array(M.tolist(), dtype=np.float64) for M in (AT, G, BT))
    m, n = AT.shape
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(trials):
        d = rng.uniform(-1, 1, (channels, n, n))
        g = rng.uniform(-1, 1, (channels, 3, 3)) / np.sqrt(9 * channels)
        ref = np.array([[np.sum(d[:, i:i + 3, j:j + 3] * g) for j in range(m)] for i in range(m)])
        f = np.float32
        U = np.einsum("ij,cjk,lk->cil", G.astype(f), g.astype(f), G.astype(f)).astype(f)
        V = np.einsum("ij,cjk,lk->cil", BT.astype(f), d.astype(f), BT.astype(f)).astype(f)
        Y = AT.astype(f) @ np.sum(U * V, axis=0, dtype=f) @ AT.T.astype(f)
        errors.append(np.max(np.abs(Y - ref)) / np.max(np.abs(ref)))
    return np.median(errors), np.max(errors)


def main():
    AT, G, BT = matrices(M_TILE, 3, POINTS)
    n = M_TILE + 2
    if "--check" in sys.argv:
        med, worst = check(AT, G, BT)
        print(f"F({M_TILE}x{M_TILE}, 3x3) float32 relative error: median {med:.3g}, worst {worst:.3g}")
        return
    print("\n\n".join([
        axis("InputAxis", BT, f"B^T: the input transform along one axis, {n} -> {n}."),
        axis("WeightAxis", G, f"G: the weight transform along one axis, 3 -> {n}."),
        axis("OutputAxis", AT, f"A^T: the output transform along one axis, {n} -> {M_TILE}."),
        axis("OutputGradAxis", AT.T,
             f"A: the adjoint of OutputAxis, {M_TILE} -> {n} (the output gradient's transform)."),
        axis("WeightGradAxis", G.T,
             f"G^T: the adjoint of WeightAxis, {n} -> 3 (the weight gradient's transform)."),
    ]))


if __name__ == "__main__":
    main()
