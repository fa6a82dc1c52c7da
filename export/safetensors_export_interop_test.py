"""Cross-checks export_float_safetensors with Hugging Face's safetensors package, both ways.

Run by safetensors_export_interop_test.sh with the interpreter tools/setup.sh prepares:
    python safetensors_export_interop_test.py <path to the tool> <scratch dir>

BitLab exports a ternary zoo model as float32; Python reads it with safetensors.numpy and
safe_open and checks its metadata, names, dtypes and shapes against the float32 twin's
parameters and buffers. Python then writes a file with the same torch names and known values,
which BitLab imports into the float32 twin and checks.
"""
import json
import os
import subprocess
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

MODEL_TYPES = ["lenet5", "resnet20"]
NUMPY_DTYPES = {"F32": np.float32, "I64": np.int64}


def python_values(dtype, shape):
    # The same formula as python_values() in safetensors_export_interop_tool.cc.
    i = (np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64) % 17) - 8
    if np.issubdtype(dtype, np.floating):
        return (i.astype(dtype) * dtype(0.125)).reshape(shape)
    return i.astype(dtype).reshape(shape)


def check_export(tool, scratch, model_type, failures):
    path = os.path.join(scratch, f"{model_type}.safetensors")
    spec_path = os.path.join(scratch, f"{model_type}.json")
    subprocess.run([tool, "export", model_type, path, spec_path], check=True)
    with open(spec_path) as f:
        expected = json.load(f)
    loaded = load_file(path)
    if sorted(loaded) != sorted(expected):
        failures.append(f"{model_type}: names {sorted(loaded)} != expected {sorted(expected)}")
    for name, spec in expected.items():
        got = loaded.get(name)
        if got is None:
            continue
        if got.dtype != NUMPY_DTYPES[spec["dtype"]] or list(got.shape) != spec["shape"]:
            failures.append(f"{model_type}: {name} is {got.dtype}{list(got.shape)}, "
                            f"expected {spec['dtype']}{spec['shape']}")
        elif got.dtype == np.float32 and not np.isfinite(got).all():
            failures.append(f"{model_type}: {name} has non-finite values")
    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
        if metadata.get("format") != "pt" or metadata.get("bitlab.export") != "float":
            failures.append(f"{model_type}: metadata is {metadata}")
        for name in f.keys():
            if "qweight" in name:
                failures.append(f"{model_type}: packed tensor {name} in the float export")
    return expected


def check_import(tool, scratch, model_type, expected, failures):
    tensors = {name: python_values(NUMPY_DTYPES[spec["dtype"]], spec["shape"])
               for name, spec in expected.items()}
    path = os.path.join(scratch, f"{model_type}-from-python.safetensors")
    save_file(tensors, path, metadata={"format": "pt"})
    if subprocess.run([tool, "import", model_type, path]).returncode != 0:
        failures.append(f"{model_type}: BitLab could not import Python's file correctly")


def main(tool, scratch):
    failures = []
    for model_type in MODEL_TYPES:
        expected = check_export(tool, scratch, model_type, failures)
        check_import(tool, scratch, model_type, expected, failures)
    for failure in failures:
        print("FAIL:", failure)
    print("safetensors export interop:", "FAIL" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
