#!/bin/sh
# Runs torchscript_export_interop_test.py with Debian's python3-torch (tools/setup.sh).
set -eu
python=/usr/bin/python3
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "$python cannot import torch: install Debian's python3-torch (tools/setup.sh)" >&2
  exit 1
fi
exec "$python" export/torchscript_export_interop_test.py export/torchscript_export_interop_tool \
  "${TEST_TMPDIR:-/tmp}"
