#!/bin/sh
# Runs tensorboard_interop_test.py with the Python environment tools/setup.sh installs.
set -eu
python=/opt/bitlab/venv/bin/python
if [ ! -x "$python" ]; then
  echo "missing $python (tensorboard from PyPI): run tools/setup.sh" >&2
  exit 1
fi
exec "$python" trainer/logging/tensorboard_interop_test.py \
  trainer/logging/tensorboard_interop_tool "${TEST_TMPDIR:-/tmp}"
