#!/bin/sh
# An in-tree module example: fs/binfmt_misc.c (built as the binfmt_misc module
# in Debian's configuration) changed so that its status file says it is
# livepatched. kelp build finds the module's name from kbuild's own record of
# the object (-DMODULE, KBUILD_MODNAME), takes the symbols of the target's
# binfmt_misc.ko, and under --verify loads that module before the livepatch.
# Output goes to $KELP_EXAMPLE_OUT (default examples/module/out, git-ignored).
set -eu
cd "$(dirname "$0")/../.."
KELP_OUT=${KELP_EXAMPLE_OUT:-examples/module/out} exec sh examples/ci/build.sh examples/module/binfmt_misc.patch \
  --check 'grep -q binfmt_misc /proc/mounts || mount -t binfmt_misc none /proc/sys/fs/binfmt_misc; cat /proc/sys/fs/binfmt_misc/status' \
  --expect '^enabled \(livepatched by kelp\)$' --expect-disabled '^enabled$' "$@"
