#!/bin/sh
# The vmlinux example: fs/proc/cmdline.c's cmdline_proc_show changed so that
# /proc/cmdline ends in "kelp_example=patched". The patched function reads
# saved_command_line, which vmlinux does not export (it is not in
# Module.symvers): the livepatch reaches it through .klp.rela.vmlinux.
# Builds against the prepared Debian source (the first fetch downloads it and
# runs make prepare, about 30 s) and verifies under QEMU: the patched line, then
# the original one once the patch is disabled. Output goes to
# $KELP_EXAMPLE_OUT (default examples/vmlinux/out, git-ignored).
set -eu
cd "$(dirname "$0")/../.."
KELP_OUT=${KELP_EXAMPLE_OUT:-examples/vmlinux/out} exec sh examples/ci/build.sh examples/vmlinux/cmdline.patch \
  --check 'cat /proc/cmdline' --expect 'console=ttyS0.* kelp_example=patched$' \
  --expect-disabled 'console=ttyS0' "$@"
