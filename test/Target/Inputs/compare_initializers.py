"""Prints how many of an ONNX model's initializers a safetensors file holds
bit for bit under the same names (and names any that differ)."""
import json
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model, weights = sys.argv[1], sys.argv[2]
blob = open(weights, "rb").read()
size = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + size])
data = blob[8 + size:]
equal = 0
for init in onnx.load(model).graph.initializer:
    expected = numpy_helper.to_array(init)
    entry = header[init.name]
    begin, end = entry["data_offsets"]
    got = np.frombuffer(data[begin:end], dtype=np.float32).reshape(entry["shape"])
    if np.array_equal(expected, got):
        equal += 1
    else:
        print("differs:", init.name)
print(f"{equal} initializers equal")
