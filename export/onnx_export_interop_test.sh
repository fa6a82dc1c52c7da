#!/bin/sh
# Runs onnx_export_interop_test.py with the Python environment tools/setup.sh installs.
set -eu
python=/opt/bitlab/venv/bin/python
if [ ! -x "$python" ]; then
  echo "missing $python (numpy, safetensors and onnxruntime from PyPI): run tools/setup.sh" >&2
  exit 1
fi
# from_pretrained copies verified weights into the cache; keep it inside the test's sandbox.
export BITLAB_CACHE="${TEST_TMPDIR:-/tmp}/bitlab-cache"
exec "$python" export/onnx_export_interop_test.py export/onnx_export_interop_tool \
  "${TEST_TMPDIR:-/tmp}"
