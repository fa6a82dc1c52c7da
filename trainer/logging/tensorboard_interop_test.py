"""Checks that TensorBoard reads the scalars BitLab's TensorBoardWriter writes.

Run by tensorboard_interop_test.sh with the interpreter tools/setup.sh prepares:
    python tensorboard_interop_test.py <path to tensorboard_interop_tool> <scratch dir>
"""
import os
import shutil
import subprocess
import sys

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def expected_scalars():
    # The same formulas as tensorboard_interop_tool.cc, as the float32 TensorBoard stores.
    return {
        "train/loss": [(step, np.float32((10 - step) * 0.25)) for step in range(11)],
        "eval/accuracy": [(step, np.float32(0.5 + step * 0.01)) for step in range(0, 11, 5)],
    }


def main(tool, scratch):
    log_dir = os.path.join(scratch, "tensorboard_interop")
    shutil.rmtree(log_dir, ignore_errors=True)
    path = subprocess.run([tool, log_dir], check=True, capture_output=True, text=True).stdout
    failures = []
    if not os.path.basename(path.strip()).startswith("events.out.tfevents."):
        failures.append(f"event file named {path.strip()!r}")
    accumulator = EventAccumulator(log_dir)
    accumulator.Reload()
    tags = sorted(accumulator.Tags()["scalars"])
    if tags != sorted(expected_scalars()):
        failures.append(f"scalar tags {tags}")
    for tag, expected in expected_scalars().items():
        if tag not in tags:
            continue
        got = [(event.step, np.float32(event.value)) for event in accumulator.Scalars(tag)]
        if got != expected:
            failures.append(f"{tag}: read {got}, expected {expected}")
    for failure in failures:
        print("FAIL:", failure)
    print("tensorboard interop:", "FAIL" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
