"""Cross-checks export_float_safetensors with Hugging Face's safetensors package, both ways.

Run by safetensors_export_interop_test.sh with the interpreter tools/setup.sh prepares:
    python safetensors_export_interop_test.py <path to the tool> <scratch dir>

BitLab exports a ternary zoo model as float32; Python reads it with safetensors.numpy and
safe_open and checks its metadata, names, dtypes and shapes against the float32 twin's
parameters and buffers. Python then writes a file with the same torch names and known values,
which BitLab imports into the float32 twin and checks. Packed: Python unpacks the t2 weights of
a deployed model's model.safetensors to exactly the float export's values, and packs them
again itself into a file BitLab loads to the same outputs.
"""
import json
import os
import shutil
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


def unpack_t2(packed, k):
    """BitLab's canonical t2 bytes [n, ceil(k/4)] -> codes q + 1 [n, 4 * ceil(k/4)], lowest bits
    first (docs/numerics.md)."""
    return np.stack([(packed >> (2 * j)) & 3 for j in range(4)], axis=-1).reshape(
        packed.shape[0], -1)


def pack_t2(q):
    """Ternary values [n, k] -> t2 bytes, padded with code 1 (zero): Python's own packing."""
    n, k = q.shape
    codes = np.ones((n, 4 * ((k + 3) // 4)), dtype=np.uint8)
    codes[:, :k] = (q + 1).astype(np.uint8)
    codes = codes.reshape(n, -1, 4)
    return (codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6).astype(
        np.uint8)


def check_packed(tool, scratch, model_type, failures):
    """Python unpacks a deployed model's packed weights to exactly the float export's weights,
    then writes its own packed file, which BitLab loads to the same outputs."""
    directory = os.path.join(scratch, f"{model_type}-deployed")
    os.makedirs(directory, exist_ok=True)
    subprocess.run([tool, "export_packed", model_type, directory], check=True)
    packed_path = os.path.join(directory, "model.safetensors")
    packed = load_file(packed_path)
    floats = load_file(os.path.join(directory, "float.safetensors"))
    layers = sorted(name[: -len(".qweight")] for name in packed if name.endswith(".qweight"))
    if not layers:
        failures.append(f"{model_type}: no packed weights in {packed_path}")
    rewritten = dict(packed)
    for layer in layers:
        qweight, scale = packed[layer + ".qweight"], packed[layer + ".qweight_scale"]
        weight = floats[layer + ".weight"]
        n, k = weight.shape[0], weight.size // weight.shape[0]
        codes = unpack_t2(qweight, k) if qweight.dtype == np.uint8 else None
        if codes is None or codes.shape[1] < k or (codes == 3).any() or (codes[:, k:] != 1).any():
            failures.append(f"{model_type}: {layer}.qweight ({qweight.dtype}{list(qweight.shape)}) "
                            "is not t2 with zero padding")
            continue
        q = codes[:, :k].astype(np.int8) - 1
        dequantized = q.astype(np.float32) * scale.reshape(-1, 1)
        if not np.array_equal(dequantized.reshape(weight.shape), weight):
            failures.append(f"{model_type}: {layer} unpacks to other values than the float export")
        # Python's own packing of the ternary values the float export holds (w = q * g).
        q_again = np.rint(weight.reshape(n, k) / scale.reshape(-1, 1)).astype(np.int8)
        rewritten[layer + ".qweight"] = pack_t2(q_again)
    with safe_open(packed_path, framework="numpy") as f:
        metadata = f.metadata()
    python_dir = os.path.join(scratch, f"{model_type}-from-python-packed")
    os.makedirs(python_dir, exist_ok=True)
    shutil.copy(os.path.join(directory, "config.json"), python_dir)
    python_path = os.path.join(python_dir, "model.safetensors")
    save_file(rewritten, python_path, metadata=metadata)
    if subprocess.run([tool, "import_packed", model_type, python_path]).returncode != 0:
        failures.append(f"{model_type}: BitLab could not load Python's packed file correctly")


def main(tool, scratch):
    failures = []
    for model_type in MODEL_TYPES:
        expected = check_export(tool, scratch, model_type, failures)
        check_import(tool, scratch, model_type, expected, failures)
        check_packed(tool, scratch, model_type, failures)
    for failure in failures:
        print("FAIL:", failure)
    print("safetensors export interop:", "FAIL" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
