#!/bin/sh
# README's main job on the bundled example (`npm run example`): fetch the
# emulated target (the current Debian bookworm kernel), then build
# examples/oot/fix.patch into a livepatch module for the kelp_demo module and
# prove it under QEMU: kelp_demo loads, the livepatch loads on top, and
# /proc/kelp_demo prints the patched line. The module and its JSON report go
# to $KELP_EXAMPLE_OUT (default examples/oot/out, git-ignored).
set -eu
cd "$(dirname "$0")/../.."
[ -f dist/src/cli.js ] || npm run build

# Host tools (Debian packages): installed when root, otherwise named.
pkgs=$(node --input-type=module -e "
  const p = await import('./dist/src/target/packages.js');
  console.log([...new Set([...p.FETCH_PACKAGES, ...p.RUN_PACKAGES, ...p.KBUILD_PACKAGES])].join(' '));")
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  else
    echo "example: missing Debian packages:$missing (as root: apt-get install$missing)" >&2
    exit 1
  fi
fi

out=${KELP_EXAMPLE_OUT:-examples/oot/out}
kdir=$(bin/kelp target fetch --json | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.parse(s).kdir))')
exec bin/kelp build examples/oot/fix.patch --oot-module examples/oot --target kelp_demo --kdir "$kdir" \
  -o "$out" --verify \
  --check 'cat /proc/kelp_demo' --check 'cat /proc/kelp_demo' \
  --expect '^hello from kelp_demo, read 2 time\(s\), fixed by a livepatch$' "$@"
