#!/usr/bin/python3
"""Writes the small binary ONNX models used by the frontend error tests.

Run from anywhere: /usr/bin/python3 test/Frontend/Inputs/make_binary_inputs.py
The outputs are committed; rerun after changing this script.
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


def conv_net(extra_nodes, out_name):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [8, 1, 8, 8])
    y = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [8, 4, 8, 8])
    w = helper.make_tensor("conv.weight", TensorProto.FLOAT, [4, 1, 3, 3], [0.1] * 36)
    b = helper.make_tensor("conv.bias", TensorProto.FLOAT, [4], [0.0] * 4)
    conv = helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["/conv/Conv_output_0"],
                            name="/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph([conv] + extra_nodes, "main_graph", [x], [y], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                             producer_name="locus test inputs")


def main():
    # An op locus does not import, in a binary model: named by node name.
    unknown = conv_net([helper.make_node("Softsign", ["/conv/Conv_output_0"], ["output"],
                                         name="/act/Softsign")], "output")
    onnx.checker.check_model(unknown)
    onnx.save(unknown, os.path.join(HERE, "unknown-op.onnx"))


if __name__ == "__main__":
    main()
