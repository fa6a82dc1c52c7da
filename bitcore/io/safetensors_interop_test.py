"""Cross-checks BitLab's safetensors files with Hugging Face's safetensors package, both ways.

Run by safetensors_interop_test.sh with the interpreter tools/setup.sh prepares:
    python safetensors_interop_test.py <path to safetensors_interop_tool> <scratch dir>
"""
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def known_tensors():
    # The same formulas as known_tensors() in safetensors_interop_tool.cc.
    return {
        "f32": (np.arange(12, dtype=np.float32).reshape(3, 4) * np.float32(0.5)),
        "f64": np.arange(6, dtype=np.float64) / 3.0,
        "f16": (np.arange(8, dtype=np.float32) * np.float32(0.25)).astype(np.float16),
        "i64": np.arange(4, dtype=np.int64) * 1000000007,
        "i32": np.arange(-3, 3, dtype=np.int32),
        "i8": np.arange(-5, 5, dtype=np.int8),
        "u8": np.arange(0, 200, dtype=np.uint8).reshape(10, 20),
        "flags": np.arange(5) % 2 == 0,
    }


def main(tool, scratch):
    failures = []
    # BitLab writes, Python reads.
    written = os.path.join(scratch, "from_bitlab.safetensors")
    subprocess.run([tool, "write", written], check=True)
    loaded = load_file(written)
    for name, expected in known_tensors().items():
        got = loaded.get(name)
        if got is None or got.dtype != expected.dtype or not np.array_equal(got, expected):
            failures.append(f"python read {name} from BitLab's file as {got!r}")
    # Python writes, BitLab reads.
    from_python = os.path.join(scratch, "from_python.safetensors")
    save_file(known_tensors(), from_python, metadata={"writer": "python"})
    check = subprocess.run([tool, "check", from_python])
    if check.returncode != 0:
        failures.append("BitLab could not read Python's file correctly")
    for failure in failures:
        print("FAIL:", failure)
    print("safetensors interop:", "FAIL" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
