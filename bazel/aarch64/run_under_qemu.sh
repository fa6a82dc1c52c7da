#!/usr/bin/env bash
# Runs an aarch64 test binary on this x86-64 machine under Debian's qemu-user: binfmt_misc is
# not mounted in every sandbox, so --config=neon names this script as the tests' --run_under.
# QEMU_CPU picks the emulated core (default `max`, every feature qemu has); the test targets
# for older cores set it (cortex-a72: no dot product; neoverse-n1: no i8mm). Anything that is
# not an aarch64 ELF file (a shell test) runs as it is.
#
# Which C library: the arm64 libraries the tests link (abseil, from `libabsl-dev:arm64`) bring
# Debian's multiarch libc6:arm64 into /lib/aarch64-linux-gnu, and the dynamic loader finds them
# there through /etc/ld.so.cache. The loader must come from the same package as that libc: the
# cross toolchain's copy in /usr/aarch64-linux-gnu (libc6-arm64-cross) can be an older Debian
# revision, and a loader and libc of different revisions hang in the first pthread_create. So
# the multiarch loader is used when it is installed (-L /), the cross one otherwise.
set -euo pipefail
binary=$1
shift
if [[ "$(head -c 4 "$binary" | od -An -c | tr -d ' ')" == '177ELF' ]] &&
  [[ "$(od -An -j 18 -N 2 -t u2 "$binary" | tr -d ' ')" == 183 ]]; then  # e_machine EM_AARCH64
  sysroot=/usr/aarch64-linux-gnu
  [[ -e /lib/aarch64-linux-gnu/libc.so.6 ]] && sysroot=/
  exec qemu-aarch64 -cpu "${QEMU_CPU:-max}" -L "$sysroot" "$binary" "$@"
fi
exec "$binary" "$@"
