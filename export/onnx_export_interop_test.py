"""Runs BitLab's ONNX exports with onnxruntime and compares them with BitLab's own output.

Run by onnx_export_interop_test.sh with the interpreter tools/setup.sh prepares:
    python onnx_export_interop_test.py <path to the tool> <scratch dir>

The tool exports zoo models in both modes ("float" and "int8") and writes each model's random
input with BitLab's deployed output. Here onnxruntime (CPU) runs every file on that input; the
largest difference, relative to the largest magnitude of BitLab's output, must stay within the
case's tolerance: 1e-4 for float mode, 1e-3 for int8 mode (the tool explains the trained
ViT's 1e-3 in float mode: rounding flips). Both modes compute the same integer sums and
rescale in the same order, so onnxruntime's outputs for the two files of a model must also
agree with each other within 1e-5, which rounding flips cannot hide.
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file


def main(tool, scratch):
    subprocess.run([tool, scratch], check=True)
    with open(os.path.join(scratch, "manifest.json")) as f:
        manifest = json.load(f)
    failures = []
    outputs = {}
    for case in manifest:
        label = f"{case['name']} ({case['mode']})"
        tensors = load_file(case["tensors"])
        expected = tensors["expected"]
        session = ort.InferenceSession(case["onnx"], providers=["CPUExecutionProvider"])
        got = session.run(["logits"], {case["input_name"]: tensors["input"]})[0]
        outputs.setdefault(case["name"], []).append(got)
        if got.shape != expected.shape:
            failures.append(f"{label}: output shape {got.shape}, BitLab's {expected.shape}")
            continue
        scale = float(np.max(np.abs(expected)))
        error = float(np.max(np.abs(got.astype(np.float64) - expected))) / max(scale, 1e-30)
        ok = np.isfinite(got).all() and error <= case["rtol"]
        print(f"{label}: max relative error {error:.3g} (tolerance {case['rtol']:g}, "
              f"{os.path.getsize(case['onnx'])} bytes): {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(f"{label}: max relative error {error:.3g} > {case['rtol']:g}")
    for name, pair in outputs.items():
        if len(pair) == 2 and pair[0].shape == pair[1].shape:
            scale = max(float(np.max(np.abs(pair[0]))), 1e-30)
            error = float(np.max(np.abs(pair[0].astype(np.float64) - pair[1]))) / scale
            print(f"{name}: float vs int8 mode in onnxruntime: max relative difference {error:.3g}")
            if error > 1e-5:
                failures.append(f"{name}: the float and int8 files differ by {error:.3g} > 1e-5")
    for failure in failures:
        print("FAIL:", failure)
    print("onnx export interop:", "FAIL" if failures else "ok")
    return 1 if failures or not manifest else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
