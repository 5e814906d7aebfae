"""Writes hostile binary specs for test/Frontend/errors/hostile-specs.test:
each is a valid protobuf that asks for something locus must refuse in
bounded time and memory (issue 14).

    make_hostile_specs.py OUTDIR
"""
import os
import sys

import onnx
from onnx import TensorProto, helper


def net(nodes, initializers=(), inputs=None, name="hostile"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 1, 8, 8])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 1, 3, 3])
    h = helper.make_tensor_value_info("h", TensorProto.FLOAT, [4, 4, 8, 8])
    graph = helper.make_graph(nodes, name, inputs or [x, w], [h], initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid("locus", 1)])


def declared(name, dims):
    """A float tensor with dimensions and no values."""
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    return t


def sized_net(x_dims, w_dims, kernel):
    """x and the parameter w as graph inputs of the given sizes (no data, so
    only their declared shapes are read); the output's shape is left
    symbolic so ONNX's shape inference has nothing to disagree with."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_dims)
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, w_dims)
    h = helper.make_tensor_value_info("h", TensorProto.FLOAT, ["n", "c", "y", "x"])
    conv = helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[kernel, kernel])
    loss = helper.make_node("LocalLoss", ["a"], ["h"], domain="locus", rule="clapp++", pool=0)
    graph = helper.make_graph([conv, loss], "sized", [x, w], [h])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid("locus", 1)])


def conv_net(w_dims, w=None, extra_nodes=()):
    conv = helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    loss = helper.make_node("LocalLoss", ["a"], ["h"], domain="locus", rule="clapp++", pool=4)
    init = w if w is not None else declared("w", w_dims)
    return net([conv, loss, *extra_nodes], [init])


def save(model, path):
    # The checker would refuse some of these; the point is that locus does too.
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    # Dimensions whose product overflows 64 bits, a billion-element tensor,
    # zero and negative sizes: declared, with no data behind them.
    save(sized_net([4, 2**40, 3, 3], [2**40, 2**40, 3, 3], 3), os.path.join(out, "overflow.onnx"))
    save(sized_net([4, 1000000, 1, 1], [1000, 1000000, 1, 1], 1), os.path.join(out, "billion.onnx"))
    save(sized_net([4, 1, 8, 8], [4, 0, 3, 3], 3), os.path.join(out, "zero.onnx"))
    save(sized_net([4, 1, 8, 8], [4, -1, 3, 3], 3), os.path.join(out, "negative.onnx"))
    # The same sizes in an initializer without values: ONNX's checker refuses it.
    save(conv_net([2**40, 2**40, 3, 3]), os.path.join(out, "overflow-initializer.onnx"))
    # External data pointing out of the model's folder.
    w = declared("w", [4, 1, 3, 3])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="../../../../etc/passwd")
    save(conv_net(None, w), os.path.join(out, "external.onnx"))
    # A cycle: a = Relu(b), b = Relu(a).
    cyc = net([helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
               helper.make_node("LocalLoss", ["a"], ["h"], domain="locus", rule="clapp++",
                                pool=4)])
    save(cyc, os.path.join(out, "cycle.onnx"))
    # 100k nodes: a chain of Relus between the convolution and the loss.
    chain = [helper.make_node("Conv", ["x", "w"], ["r0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    for i in range(100000):
        chain.append(helper.make_node("Relu", [f"r{i}"], [f"r{i + 1}"]))
    chain.append(helper.make_node("LocalLoss", ["r100000"], ["h"], domain="locus",
                                  rule="clapp++", pool=4))
    save(net(chain), os.path.join(out, "many-nodes.onnx"))
    # Deeply nested graph attributes (a subgraph inside a subgraph, 2000 deep):
    # protobuf's recursion limit refuses it before locus sees a node.
    empty = helper.make_graph([], "empty", [], [])
    inner = empty
    for depth in range(1, 2000):
        node = helper.make_node("If", ["c"], ["o"], then_branch=inner, else_branch=empty)
        inner = helper.make_graph([node], f"g{depth}", [], [])
    nested = net([helper.make_node("If", ["c"], ["h"], then_branch=inner, else_branch=empty)])
    save(nested, os.path.join(out, "nested.onnx"))
    # The same in ONNX text, 50,000 deep (ONNX's text parser recurses per
    # bracket and once overflowed the stack here), and 100 deep, which the
    # nesting bound lets through to the importer.
    for depth in (100, 50000):
        inner = "g0 () => (float[1] o) { o = Constant <value = float[1] {1.0}> () }"
        for level in range(1, depth):
            inner = f"g{level} () => (float[1] o) {{ o = If <then_branch = {inner}> (c) }}"
        with open(os.path.join(out, f"nested-{depth}.onnxtxt"), "w") as f:
            f.write('<ir_version: 8, opset_import: ["" : 17]>\n'
                    "net (float[1] x, bool c) => (float[1] h)\n{\n"
                    f"  h = If <then_branch = {inner}> (c)\n}}\n")
    # A value name with control characters (a terminal escape sequence).
    bad = "a\x1b[2J\x07"
    ctrl = net([helper.make_node("Conv", ["x", "w"], [bad], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                helper.make_node("LocalLoss", [bad], ["h"], domain="locus", rule="clapp++",
                                 pool=4)])
    save(ctrl, os.path.join(out, "control.onnx"))
    # Control characters where no name is: an op type, an annotation's value,
    # an attribute's name (each printed escaped by the error that names it).
    conv = helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    save(net([conv, helper.make_node("Re\x1b[2Jlu", ["a"], ["h"])]),
         os.path.join(out, "control-op.onnx"))
    save(net([conv, helper.make_node("LocalLoss", ["a"], ["h"], domain="locus", rule="clapp++",
                                     pool="n\x7fne")]),
         os.path.join(out, "control-value.onnx"))
    odd = helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    odd.attribute.append(helper.make_attribute("kern\x07el", 1))
    save(net([odd, helper.make_node("LocalLoss", ["a"], ["h"], domain="locus", rule="clapp++",
                                    pool=4)]),
         os.path.join(out, "control-attribute.onnx"))


if __name__ == "__main__":
    main()
