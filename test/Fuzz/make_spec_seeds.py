#!/usr/bin/python3
"""Writes the spec seeds of the fuzz corpus (test/Fuzz/corpus/{onnx-text,onnx-binary,annotations}):
copies of the example and test specs, each also as binary protobuf, and a small PyTorch-style
export (named nodes, initializers, no locus nodes) like examples/fmnist.onnx with fewer channels.
The runtime formats' seeds come from locus-fuzz-make-seeds (MakeSeeds.cpp).

    /usr/bin/python3 test/Fuzz/make_spec_seeds.py      (Debian's python3-onnx)
"""
import glob
import os
import shutil

import onnx
import onnx.parser
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

TEXT_SPECS = (sorted(glob.glob(os.path.join(ROOT, "examples", "*.onnxtxt"))) +
              sorted(glob.glob(os.path.join(ROOT, "test", "Unit", "Models", "*.onnxtxt"))) +
              sorted(glob.glob(os.path.join(ROOT, "test", "Frontend", "errors", "*.onnxtxt"))) +
              sorted(glob.glob(os.path.join(ROOT, "test", "Target", "Inputs", "*.onnxtxt"))))


def out(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    mode = "w" if isinstance(data, str) else "wb"
    with open(os.path.join(CORPUS, target, name), mode) as f:
        f.write(data)


def small_export(locus_nodes):
    """examples/fmnist.onnx's graph with 4 and 8 channels (and optionally its blocks marked)."""
    def tensor(name, dims, scale):
        n = 1
        for d in dims:
            n *= d
        return helper.make_tensor(name, TensorProto.FLOAT, dims,
                                  [scale * ((i * 7) % 11 - 5) for i in range(n)])
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [8, 1, 28, 28])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [8, 8, 7, 7])
    inits = [tensor("block1.conv.weight", [4, 1, 3, 3], 0.05), tensor("block1.conv.bias", [4], 0.01),
             tensor("block2.conv.weight", [8, 4, 3, 3], 0.05), tensor("block2.conv.bias", [8], 0.01)]
    nodes = []
    prev = "input"
    for b in (1, 2):
        conv = f"/block{b}/conv/Conv"
        nodes.append(helper.make_node("Conv", [prev, f"block{b}.conv.weight", f"block{b}.conv.bias"],
                                      [conv + "_output_0"], name=conv, kernel_shape=[3, 3],
                                      pads=[1, 1, 1, 1], strides=[1, 1]))
        nodes.append(helper.make_node("Relu", [conv + "_output_0"], [f"/block{b}/relu/Relu_output_0"],
                                      name=f"/block{b}/relu/Relu"))
        pooled = "output" if b == 2 and not locus_nodes else f"/block{b}/pool/MaxPool_output_0"
        nodes.append(helper.make_node("MaxPool", [f"/block{b}/relu/Relu_output_0"], [pooled],
                                      name=f"/block{b}/pool/MaxPool", kernel_shape=[2, 2],
                                      strides=[2, 2]))
        prev = pooled
        if locus_nodes:
            marked = "output" if b == 2 else f"/block{b}/LocalLoss_output_0"
            nodes.append(helper.make_node("LocalLoss", [pooled], [marked], domain="locus",
                                          name=f"/block{b}/LocalLoss", block=f"block{b}",
                                          rule="clapp++", pool=7))
            prev = marked
    graph = helper.make_graph(nodes, "main_graph", [x], [y], inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("locus", 1)] if locus_nodes else [])
    return helper.make_model(graph, opset_imports=opsets, producer_name="pytorch")


def main():
    for target in ("onnx-text", "onnx-binary", "annotations"):
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    for path in TEXT_SPECS:
        name = os.path.relpath(path, ROOT).replace("/", "_")
        with open(path) as f:
            text = f.read()
        out("onnx-text", name, text)
        try:
            model = onnx.parser.parse_model(text)
        except Exception:  # a syntax-error test: text only
            continue
        out("onnx-binary", name.replace(".onnxtxt", ".onnx"), model.SerializeToString())
    shutil.copy(os.path.join(ROOT, "test", "Frontend", "Inputs", "unknown-op.onnx"),
                os.path.join(CORPUS, "onnx-binary", "test_Frontend_Inputs_unknown-op.onnx"))
    out("onnx-binary", "small-export.onnx", small_export(False).SerializeToString())
    out("onnx-binary", "small-export-blocks.onnx", small_export(True).SerializeToString())
    if hasattr(onnx, "printer"):  # onnx >= 1.13
        out("onnx-text", "small-export-blocks.onnxtxt", onnx.printer.to_text(small_export(True)))

    # The annotations target's spec (annotations.cpp) has values a1 r1 p1 a2 r2: a side file,
    # then after a NUL byte one --annotate option a line.
    out("annotations", "side-file.annotations",
        "# blocks of the tiny spec\n"
        "p1 block=block1 rule=clapp++ pool=2\n"
        "r2 block=block2 rule=clapp++ pool=2   # the last block\n")
    out("annotations", "options.annotations",
        "\0p1:block=block1,rule=clapp++dfb,pool=2\nr2:block=block2,rule=clapp++dfb,"
        "context_block=block1,pool=2\n")
    out("annotations", "mixed.annotations",
        "p1 block=b1 rule=ff pool=none theta=2.0\n\0r2:block=b2,rule=scff,pool=global\n")
    out("annotations", "attributes.annotations",
        "r1 block=b1 rule=clapp++ pool=4 negatives=random projection=identity\n"
        "a2 block=b2 rule=bp-infonce pool=2 temperature=0.5 weight=1.5 \"lambda\"=0.1\n")


if __name__ == "__main__":
    main()
