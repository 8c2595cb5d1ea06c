#!/bin/sh
# The vmlinux example: fs/proc/cmdline.c's cmdline_proc_show changed so that
# /proc/cmdline ends in "kelp_example=patched". The patched function reads
# saved_command_line, which vmlinux does not export (it is not in
# Module.symvers): the livepatch reaches it through .klp.rela.vmlinux.
# Fetches the target with its prepared source (first time: the download and
# about 30 s of make prepare), then builds and verifies under QEMU.
set -eu
cd "$(dirname "$0")/../.."
[ -f dist/src/cli.js ] || npm run build
out=${KELP_EXAMPLE_OUT:-examples/vmlinux/out}
info=$(bin/kelp target fetch --source --json)
get() { printf '%s' "$info" | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }
exec bin/kelp build examples/vmlinux/cmdline.patch --sourcedir "$(get source)" --kdir "$(get kdir)" \
  --symbols "$(get systemMap)" -o "$out" --verify \
  --check 'cat /proc/cmdline' --expect 'console=ttyS0.* kelp_example=patched$' "$@"
