#!/bin/sh
# README's main job on the bundled example (`npm run example`): build
# examples/oot/fix.patch into a livepatch module for the kelp_demo module and
# prove it under QEMU: kelp_demo loads, the livepatch loads on top,
# /proc/kelp_demo prints the patched line, and once the patch is disabled the
# original line is back (the module's own counter carries on). The module and its JSON report go
# to $KELP_EXAMPLE_OUT (default examples/oot/out, git-ignored).
set -eu
cd "$(dirname "$0")/../.."
KELP_OUT=${KELP_EXAMPLE_OUT:-examples/oot/out} exec sh examples/ci/build.sh examples/oot/fix.patch \
  --oot-module examples/oot --target kelp_demo \
  --check 'cat /proc/kelp_demo' --check 'cat /proc/kelp_demo' \
  --expect '^hello from kelp_demo, read 2 time\(s\), fixed by a livepatch$' \
  --expect-disabled '^hello from kelp_demo, read 4 time\(s\)$' "$@"
