"""Runs BitLab's TorchScript exports with Python's torch.jit.load (Debian's python3-torch, the
same 1.13 as BitLab's libtorch) and compares them with BitLab's own outputs.

Run by torchscript_export_interop_test.sh:
    python3 torchscript_export_interop_test.py <path to the tool> <scratch dir>

The tool exports deployed zoo models and writes, per model, the input and BitLab's output.
Python loads each export without BitLab, runs it on that input and requires
max|python - bitlab| / max|bitlab| < 1e-4.
"""
import os
import subprocess
import sys

import torch

TOLERANCE = 1e-4


def main():
    tool, scratch = sys.argv[1], sys.argv[2]
    subprocess.run([tool, scratch], check=True)
    with open(os.path.join(scratch, "models.txt")) as names:
        models = names.read().split()
    if not models:
        sys.exit("the tool exported no models")
    failures = []
    for name in models:
        module = torch.jit.load(os.path.join(scratch, name + ".pt"))
        io = torch.jit.load(os.path.join(scratch, name + ".io.pt"))
        with torch.no_grad():
            actual = module(io.input)
        if actual.shape != io.expected.shape:
            failures.append(f"{name}: output shape {tuple(actual.shape)}, "
                            f"BitLab's {tuple(io.expected.shape)}")
            continue
        scale = io.expected.abs().max().item()
        if not scale > 1e-3:
            failures.append(f"{name}: BitLab's output is all (near) zero; comparing it proves "
                            "nothing")
            continue
        error = ((actual - io.expected).abs().max() / scale).item()
        print(f"{name}: output {tuple(actual.shape)}, relative error {error:.2e}")
        if not error < TOLERANCE:
            failures.append(f"{name}: relative error {error:.2e} >= {TOLERANCE}")
    if failures:
        sys.exit("\n".join(failures))
    print(f"{len(models)} TorchScript exports match BitLab within {TOLERANCE}")


if __name__ == "__main__":
    main()
