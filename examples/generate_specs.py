#!/usr/bin/python3
"""Generate the example locus model specs in examples/.

Usage:
    /usr/bin/python3 examples/generate_specs.py [--out DIR] [--rule RULE] [--quiet]

Needs only the Python standard library and the `onnx` package (ONNX 1.12, Debian
python3-onnx).  Output is deterministic: running it twice gives byte-identical files.

Files written (into examples/, next to this script, unless --out is given):

  vgg6-cifar10.onnxtxt       VGG-6, CIFAR-10 (32x32),        loss pools 4-4-4-2-2-1
  vgg6-stl10.onnxtxt         VGG-6, STL-10 (96x96),          loss pools 12-12-12-6-6-3
  vgg6-tinyimagenet.onnxtxt  VGG-6, Tiny ImageNet (64x64),   loss pools 8-8-8-4-4-2
  vgg8-imagenet.onnxtxt      VGG-8, ImageNet (224x224),      loss pools 28-28-14-14-14-7-7-7
  fmnist.onnxtxt             2-block net, Fashion-MNIST,     loss pools 7-7
  fmnist.onnx                the same Fashion-MNIST net as a binary, PyTorch-export-like model:
                             no locus annotations, weights as initializers
  fmnist.annotations         side file attaching the locus annotations to fmnist.onnx by node name

Conventions of a locus spec (see examples/README.md):
  * opset_import ["" : 17, "locus" : 1], ir_version 8.
  * Graph input 0 is the data, float[V,C,H,W] with V = 2 * batch (two views per image).
    The other graph inputs are the trainable parameters conv<l>_w [O,I,3,3] and conv<l>_b [O]
    (a binary model may hold them as initializers instead).
  * A block is Conv 3x3 (stride 1, pads 1, with bias) -> Relu -> optional MaxPool 2x2/2,
    and its output is marked by the identity-like custom node
        h<l> = locus.LocalLoss <block = "block<l>", rule = "clapp++", pool = k_l> (...)
    whose output the next block consumes.  pool = 0 means global average pooling.
  * The graph output is the last block's LocalLoss output.

The text files also declare, as graph value_info, the shape of every LocalLoss output except the
last (which is the graph output), so that ONNX shape inference, which cannot see through the
custom op, still knows every tensor's shape.  An importer is free to ignore them.

Validation done for every spec:
  * the text is parsed with onnx.parser.parse_model, then onnx.checker.check_model(full_check=True)
    and onnx.shape_inference.infer_shapes(check_type=True, strict_mode=True) are run;
  * a copy with every locus.LocalLoss replaced by an ONNX Identity is shape-inferred strictly and
    every block output's inferred shape is compared with the expected one (and with the declared
    value_info / graph output), and D_l = C_l * floor(H_l/k_l) * floor(W_l/k_l) is computed;
  * the VGG-6 D_l values are checked against METHOD.md section 4 (8192 4096 4096 8192 4096 4096);
  * fmnist.onnx is checked and strictly shape-inferred; fmnist.annotations is parsed, applied to
    fmnist.onnx (inserting LocalLoss nodes), and the result is compared with fmnist.onnxtxt.
"""

import argparse
import copy
import math
import os
import random
import struct
import sys

import onnx
import onnx.checker
import onnx.helper
import onnx.parser
import onnx.shape_inference
from onnx import TensorProto

IR_VERSION = 8
OPSETS = [("", 17), ("locus", 1)]
PRODUCER = "locus examples/generate_specs.py"
RULES = ("clapp++", "clapp++dfb", "clapp++both", "clapp", "ff", "scff", "phyll",
         "bp-clapp++", "bp-infonce")

# Block lists: channel count, optionally followed by "M" (max-pool 2x2 stride 2).
VGG6 = [(128, False), (256, True), (256, False), (512, True), (1024, True), (1024, True)]
VGG8 = [(128, False), (256, True), (512, True), (512, False), (1024, True), (1024, True),
        (1024, False), (1024, True)]
FMNIST = [(128, True), (256, True)]

# name, title, dataset text, input [V,C,H,W], blocks, loss pool kernels, expected D_l (or None)
SPECS = [
    ("vgg6-cifar10", "VGG-6", "CIFAR-10 (32x32 RGB)", [64, 3, 32, 32], VGG6,
     [4, 4, 4, 2, 2, 1], [8192, 4096, 4096, 8192, 4096, 4096]),
    ("vgg6-stl10", "VGG-6", "STL-10 (96x96 RGB)", [64, 3, 96, 96], VGG6,
     [12, 12, 12, 6, 6, 3], [8192, 4096, 4096, 8192, 4096, 4096]),
    ("vgg6-tinyimagenet", "VGG-6", "Tiny ImageNet (64x64 RGB)", [64, 3, 64, 64], VGG6,
     [8, 8, 8, 4, 4, 2], [8192, 4096, 4096, 8192, 4096, 4096]),
    ("vgg8-imagenet", "VGG-8", "ImageNet (224x224 RGB, batch 64 per GPU)", [128, 3, 224, 224],
     VGG8, [28, 28, 14, 14, 14, 7, 7, 7], None),
    ("fmnist", "2-block conv net", "Fashion-MNIST (28x28 grey)", [64, 1, 28, 28], FMNIST,
     [7, 7], [512, 256]),
]

FMNIST_SEED = 20240101  # fixed seed for the fmnist.onnx initializers


def fmt_shape(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def block_shapes(inp, blocks):
    """Return per block (in_channels, out_channels, conv output shape, block output shape)."""
    v, c, h, w = inp
    out = []
    for oc, pool in blocks:
        conv = [v, oc, h, w]
        if pool:
            h, w = h // 2, w // 2
        out.append((c, oc, conv, [v, oc, h, w]))
        c = oc
    return out


def d_l(shape, k):
    _, c, h, w = shape
    if k == 0:
        return c
    return c * (h // k) * (w // k)


# --------------------------------------------------------------------------- text specs

def make_text_spec(name, title, dataset, inp, blocks, pools, rule):
    """Return the .onnxtxt text of one spec."""
    assert len(blocks) == len(pools)
    shapes = block_shapes(inp, blocks)
    nblk = len(blocks)
    gname = name.replace("-", "_")
    arch = " ".join("[%d%s]" % (oc, ",M" if p else "") for oc, p in blocks)
    L = []
    L.append("# locus model spec: %s on %s." % (title, dataset))
    L.append("# Generated by examples/generate_specs.py -- edit that script, not this file.")
    L.append("#")
    L.append("# Blocks: %s  (M = MaxPool 2x2 stride 2)." % arch)
    L.append("# Input x: float%s = 2 views x %d images." % (fmt_shape(inp), inp[0] // 2))
    L.append("# Every block: Conv 3x3 stride 1 pads 1 with bias -> Relu -> [MaxPool] ->")
    L.append("# locus.LocalLoss (identity-like marker of the block output, which the next")
    L.append("# block consumes).  LocalLoss attributes: block name, learning rule, loss")
    L.append("# pooling kernel k_l (average pool kernel = stride; 0 = global average).")
    L.append("# The graph output is the last block's LocalLoss output.  The <...> list after")
    L.append("# the graph signature declares the shapes of the other LocalLoss outputs.")
    L.append("#")
    L.append("# block   conv          output h_l            k_l   D_l = C*floor(H/k)*floor(W/k)")
    for i, (ic, oc, _, hs) in enumerate(shapes):
        L.append("# %-7s %-13s %-21s %-5d %d" % ("block%d" % (i + 1), "%d->%d" % (ic, oc),
                                              fmt_shape(hs), pools[i], d_l(hs, pools[i])))
    L.append("<")
    L.append("  ir_version: %d," % IR_VERSION)
    L.append("  opset_import: [" + ", ".join('"%s" : %d' % o for o in OPSETS) + "],")
    L.append('  producer_name: "%s",' % PRODUCER)
    L.append('  doc_string: "locus spec: %s on %s"' % (title, dataset))
    L.append(">")
    L.append("%s (" % gname)
    L.append("    float%s x," % fmt_shape(inp))
    for i, (ic, oc, _, _) in enumerate(shapes):
        sep = "," if i + 1 < nblk else ""
        L.append("    float[%d,%d,3,3] conv%d_w, float[%d] conv%d_b%s" % (oc, ic, i + 1, oc, i + 1, sep))
    L.append(") => (float%s h%d)" % (fmt_shape(shapes[-1][3]), nblk))
    if nblk > 1:
        vi = ["float%s h%d" % (fmt_shape(shapes[i][3]), i + 1) for i in range(nblk - 1)]
        L.append("  <" + ",\n   ".join(vi) + ">")
    L.append("{")
    prev = "x"
    for i, (ic, oc, conv, hs) in enumerate(shapes):
        n = i + 1
        pool = blocks[i][1]
        L.append("  # block%d: %d -> %d channels, %dx%d%s, loss pool %d, D = %d"
                 % (n, ic, oc, conv[2], conv[3], " -> %dx%d" % (hs[2], hs[3]) if pool else "",
                    pools[i], d_l(hs, pools[i])))
        L.append("  a%d = Conv <kernel_shape = [3, 3], strides = [1, 1], pads = [1, 1, 1, 1]> "
                 "(%s, conv%d_w, conv%d_b)" % (n, prev, n, n))
        L.append("  r%d = Relu (a%d)" % (n, n))
        last = "r%d" % n
        if pool:
            L.append("  p%d = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (r%d)" % (n, n))
            last = "p%d" % n
        L.append('  h%d = locus.LocalLoss <block = "block%d", rule = "%s", pool = %d> (%s)'
                 % (n, n, rule, pools[i], last))
        prev = "h%d" % n
    L.append("}")
    return "\n".join(L) + "\n"


def tensor_shape(vi):
    return [d.dim_value if d.HasField("dim_value") else None
            for d in vi.type.tensor_type.shape.dim]


def strip_local_loss(model):
    """Copy of model with every locus.LocalLoss node turned into an ONNX Identity."""
    m = copy.deepcopy(model)
    for node in m.graph.node:
        if node.domain == "locus" and node.op_type == "LocalLoss":
            node.domain = ""
            node.op_type = "Identity"
            del node.attribute[:]
    return m


def check_model_strict(model, what):
    onnx.checker.check_model(model, full_check=True)
    return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)


def local_loss_nodes(model):
    return [n for n in model.graph.node if n.domain == "locus" and n.op_type == "LocalLoss"]


def attr_dict(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def validate_text_spec(text, inp, blocks, pools, rule, expected_d, what):
    """Parse, check, shape-infer; return list of (block, output shape, k, D)."""
    model = onnx.parser.parse_model(text)
    if model.ir_version != IR_VERSION:
        raise ValueError("%s: ir_version %d" % (what, model.ir_version))
    if sorted((o.domain, o.version) for o in model.opset_import) != sorted(OPSETS):
        raise ValueError("%s: bad opset_import" % what)
    check_model_strict(model, what)

    shapes = block_shapes(inp, blocks)
    g = model.graph
    # inputs: data + conv<l>_w, conv<l>_b
    names = [i.name for i in g.input]
    want = ["x"] + [n for l in range(1, len(blocks) + 1) for n in ("conv%d_w" % l, "conv%d_b" % l)]
    if names != want:
        raise ValueError("%s: graph inputs %s" % (what, names))
    if tensor_shape(g.input[0]) != list(inp):
        raise ValueError("%s: data input shape" % what)
    for l, (ic, oc, _, _) in enumerate(shapes, 1):
        if tensor_shape(g.input[2 * l - 1]) != [oc, ic, 3, 3] or tensor_shape(g.input[2 * l]) != [oc]:
            raise ValueError("%s: parameter shapes of block %d" % (what, l))

    # LocalLoss nodes and their attributes
    ll = local_loss_nodes(model)
    if len(ll) != len(blocks):
        raise ValueError("%s: %d LocalLoss nodes, want %d" % (what, len(ll), len(blocks)))
    for l, node in enumerate(ll, 1):
        a = attr_dict(node)
        if a != {"block": b"block%d" % l, "rule": rule.encode(), "pool": pools[l - 1]}:
            raise ValueError("%s: LocalLoss %d attributes %r" % (what, l, a))
    if g.output[0].name != ll[-1].output[0] or len(g.output) != 1:
        raise ValueError("%s: graph output is not the last LocalLoss output" % what)

    # shapes through the whole net with the markers as Identity
    inferred = onnx.shape_inference.infer_shapes(strip_local_loss(model), check_type=True,
                                                 strict_mode=True)
    known = {vi.name: tensor_shape(vi) for vi in
             list(inferred.graph.value_info) + list(inferred.graph.output)}
    declared = {vi.name: tensor_shape(vi) for vi in list(g.value_info) + list(g.output)}
    rows = []
    for l, node in enumerate(ll, 1):
        out = node.output[0]
        exp = shapes[l - 1][3]
        if known.get(out) != exp or declared.get(out) != exp:
            raise ValueError("%s: block %d output %s inferred %s declared %s, want %s"
                             % (what, l, out, known.get(out), declared.get(out), exp))
        rows.append(("block%d" % l, exp, pools[l - 1], d_l(exp, pools[l - 1])))
    if expected_d is not None and [r[3] for r in rows] != expected_d:
        raise ValueError("%s: D_l %s, want %s" % (what, [r[3] for r in rows], expected_d))
    for _, shp, k, _ in rows:
        if k > shp[2] or k > shp[3] or k < 0:
            raise ValueError("%s: loss pool kernel %d larger than the map %s" % (what, k, shp))
    return model, rows


# --------------------------------------------------------------------------- binary fmnist

def f32_bytes(values):
    return struct.pack("<%df" % len(values), *values)


def uniform_tensor(rng, name, dims, bound):
    n = 1
    for d in dims:
        n *= d
    vals = [rng.uniform(-bound, bound) for _ in range(n)]
    return onnx.helper.make_tensor(name, TensorProto.FLOAT, dims, f32_bytes(vals), raw=True)


def make_fmnist_binary():
    """Fashion-MNIST net as a PyTorch export would look (no locus annotations)."""
    inp = [64, 1, 28, 28]
    shapes = block_shapes(inp, FMNIST)
    rng = random.Random(FMNIST_SEED)
    inits, nodes = [], []
    prev = "input"
    for l, (ic, oc, _, _) in enumerate(shapes, 1):
        # PyTorch default Conv2d init: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in)
        # for the weight; the bias is uniform(+-1/sqrt(fan_in)) too.
        fan_in = ic * 3 * 3
        bound = 1.0 / math.sqrt(fan_in)
        wname, bname = "block%d.conv.weight" % l, "block%d.conv.bias" % l
        inits.append(uniform_tensor(rng, wname, [oc, ic, 3, 3], bound))
        inits.append(uniform_tensor(rng, bname, [oc], bound))
        conv = "/block%d/conv/Conv" % l
        relu = "/block%d/relu/Relu" % l
        pool = "/block%d/pool/MaxPool" % l
        nodes.append(onnx.helper.make_node(
            "Conv", [prev, wname, bname], [conv + "_output_0"], name=conv,
            dilations=[1, 1], group=1, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
        nodes.append(onnx.helper.make_node("Relu", [conv + "_output_0"], [relu + "_output_0"],
                                           name=relu))
        pout = "output" if l == len(shapes) else pool + "_output_0"
        nodes.append(onnx.helper.make_node(
            "MaxPool", [relu + "_output_0"], [pout], name=pool,
            ceil_mode=0, kernel_shape=[2, 2], pads=[0, 0, 0, 0], strides=[2, 2]))
        prev = pout
    graph = onnx.helper.make_graph(
        nodes, "main_graph",
        [onnx.helper.make_tensor_value_info("input", TensorProto.FLOAT, inp)],
        [onnx.helper.make_tensor_value_info("output", TensorProto.FLOAT, shapes[-1][3])],
        initializer=inits)
    model = onnx.helper.make_model(graph, producer_name=PRODUCER,
                                   opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = IR_VERSION
    model.doc_string = ("Fashion-MNIST 2-block conv net in the form of a PyTorch export, without "
                        "locus annotations; see fmnist.annotations.")
    return model


def make_fmnist_annotations(rule, pools):
    L = [
        "# locus annotations for fmnist.onnx (Fashion-MNIST, 2 blocks).",
        "# Generated by examples/generate_specs.py -- edit that script, not this file.",
        "#",
        "# Format: one line per learning block:  NODE_NAME key=value [key=value ...]",
        "# NODE_NAME is the name of a node of the model; its output becomes the block's output,",
        "# exactly as if   out' = locus.LocalLoss <key = value, ...> (out)   followed that node.",
        "# Keys are the LocalLoss attributes (block, rule, pool, ...); an integer-looking value",
        "# is an int attribute, anything else a string.  '#' starts a comment to the end of the",
        "# line; blank lines are ignored.",
        "#",
        "# block1: 1 -> 128 channels, 28x28 -> 14x14, loss pool 7, D = 128*2*2 = 512",
        "/block1/pool/MaxPool block=block1 rule=%s pool=%d" % (rule, pools[0]),
        "# block2: 128 -> 256 channels, 14x14 -> 7x7, loss pool 7, D = 256*1*1 = 256",
        "/block2/pool/MaxPool block=block2 rule=%s pool=%d" % (rule, pools[1]),
    ]
    return "\n".join(L) + "\n"


def parse_annotations(text):
    """Return [(node_name, {key: int|str})] from an annotations side file."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        attrs = {}
        for f in fields[1:]:
            if "=" not in f:
                raise ValueError("annotations line %d: %r is not key=value" % (lineno, f))
            k, v = f.split("=", 1)
            try:
                attrs[k] = int(v)
            except ValueError:
                attrs[k] = v
        out.append((fields[0], attrs))
    return out


def apply_annotations(model, annots):
    """Insert locus.LocalLoss nodes after the annotated nodes (what an importer would do)."""
    m = copy.deepcopy(model)
    by_name = {n.name: n for n in m.graph.node}
    new_nodes = list(m.graph.node)
    for name, attrs in annots:
        if name not in by_name:
            raise ValueError("annotation names unknown node %r" % name)
        node = by_name[name]
        old = node.output[0]
        marked = old + "_locus"
        # rewire consumers and graph outputs of `old` to the marked value
        for n in new_nodes:
            for i, x in enumerate(n.input):
                if x == old:
                    n.input[i] = marked
        for o in m.graph.output:
            if o.name == old:
                o.name = marked
        ll = onnx.helper.make_node("LocalLoss", [old], [marked], name=name + "/locus.LocalLoss",
                                   domain="locus", **attrs)
        new_nodes.insert(new_nodes.index(node) + 1, ll)
    del m.graph.node[:]
    m.graph.node.extend(new_nodes)
    del m.opset_import[:]
    m.opset_import.extend([onnx.helper.make_opsetid(d, v) for d, v in OPSETS])
    return m


def validate_fmnist_binary(model_bytes, annot_text, text_model, what):
    model = onnx.load_from_string(model_bytes)
    inferred = check_model_strict(model, what)
    out_shape = tensor_shape(inferred.graph.output[0])
    if out_shape != [64, 256, 7, 7]:
        raise ValueError("%s: output shape %s" % (what, out_shape))
    if local_loss_nodes(model):
        raise ValueError("%s: must not carry locus annotations" % what)
    annotated = apply_annotations(model, parse_annotations(annot_text))
    check_model_strict(annotated, what + " + annotations")
    # same computation as fmnist.onnxtxt: op sequence, attributes of the markers, param shapes
    # (modulo attributes a PyTorch export spells out at their ONNX default values)
    defaults = {"Conv": {"dilations": [1, 1], "group": 1},
                "MaxPool": {"ceil_mode": 0, "pads": [0, 0, 0, 0]}}

    def sig(m):
        out = []
        for n in m.graph.node:
            a = dict(defaults.get(n.op_type, {}))
            a.update(attr_dict(n))
            out.append((n.op_type, n.domain, sorted(a.items())))
        return out
    if sig(annotated) != sig(text_model):
        raise ValueError("%s + annotations differs from fmnist.onnxtxt:\n%s\n%s"
                         % (what, sig(annotated), sig(text_model)))
    init_shapes = [list(t.dims) for t in model.graph.initializer]
    text_shapes = [tensor_shape(i) for i in text_model.graph.input[1:]]
    if init_shapes != text_shapes:
        raise ValueError("%s: initializer shapes %s != %s" % (what, init_shapes, text_shapes))
    for t in model.graph.initializer:
        fan_in = t.dims[1] * 9 if len(t.dims) == 4 else None
        vals = struct.unpack("<%df" % (len(t.raw_data) // 4), t.raw_data)
        if fan_in:
            bound = 1.0 / math.sqrt(fan_in)
            if max(abs(v) for v in vals) > bound * (1 + 1e-6):
                raise ValueError("%s: %s outside the init bound" % (what, t.name))


# --------------------------------------------------------------------------- main

def write(path, data, quiet):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    if not quiet:
        print("wrote %-28s %9d bytes" % (os.path.basename(path), os.path.getsize(path)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output directory (default: the directory of this script)")
    ap.add_argument("--rule", default="clapp++", choices=RULES,
                    help="rule written into every LocalLoss annotation (default clapp++)")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    text_models = {}
    for name, title, dataset, inp, blocks, pools, expected_d in SPECS:
        text = make_text_spec(name, title, dataset, inp, blocks, pools, args.rule)
        model, rows = validate_text_spec(text, inp, blocks, pools, args.rule, expected_d, name)
        text_models[name] = model
        write(os.path.join(args.out, name + ".onnxtxt"), text, args.quiet)
        if not args.quiet:
            print("    D_l: " + " ".join(str(r[3]) for r in rows))

    fm_pools = dict((s[0], s[5]) for s in SPECS)["fmnist"]
    binary = make_fmnist_binary().SerializeToString()
    annots = make_fmnist_annotations(args.rule, fm_pools)
    validate_fmnist_binary(binary, annots, text_models["fmnist"], "fmnist.onnx")
    write(os.path.join(args.out, "fmnist.onnx"), binary, args.quiet)
    write(os.path.join(args.out, "fmnist.annotations"), annots, args.quiet)
    if not args.quiet:
        print("all specs parsed, checked and shape-inferred (strict) with onnx %s" % onnx.__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
