#!/bin/sh
# Build a patch into a livepatch module and verify it in the emulated target,
# with the target's paths filled in. The one script behind `npm run example`
# (examples/oot/run.sh), examples/vmlinux/run.sh, kelp's own tests of them,
# and the GitHub Actions job in examples/ci/livepatch.yml.
#
#   examples/ci/build.sh PATCH... [kelp build options]
#
# Kernel patches build against the current Debian bookworm kernel's prepared
# source (kelp target fetch --source); with --oot-module only the headers are
# fetched. `--release R` (a release of `kelp target list`, as uname -r prints
# it) builds for that kernel instead: kelp build fetches it itself. Missing Debian packages are installed when run as root. The module
# and its JSON report go to $KELP_OUT (default: out), or to -o DIR.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
kelp="$root/bin/kelp"
[ -f "$root/dist/src/cli.js" ] || (cd "$root" && npm run build)

oot=0
release=0
for a in "$@"; do
  [ "$a" = --oot-module ] && oot=1
  case "$a" in --release|--release=*) release=1 ;; esac
done

# Host tools, from the same package lists kelp's tests use.
pkgs=$(cd "$root" && node --input-type=module -e "
  const p = await import('./dist/src/target/packages.js');
  const want = [...p.FETCH_PACKAGES, ...p.RUN_PACKAGES, ...p.KBUILD_PACKAGES, ...($oot ? [] : p.SOURCE_PACKAGES), ...($release ? p.BUILD_ROOT_PACKAGES : [])];
  console.log([...new Set(want)].join(' '));")
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  else
    echo "kelp: missing Debian packages:$missing (as root: apt-get install$missing)" >&2
    exit 1
  fi
fi

get() { printf '%s' "$info" | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }
out=${KELP_OUT:-out}
if [ "$release" = 1 ]; then
  exec "$kelp" build -o "$out" --verify "$@"
elif [ "$oot" = 1 ]; then
  info=$("$kelp" target fetch --json)
  exec "$kelp" build --kdir "$(get kdir)" --symbols "$(get systemMap)" -o "$out" --verify "$@"
else
  info=$("$kelp" target fetch --source --json)
  exec "$kelp" build --sourcedir "$(get source)" --kdir "$(get kdir)" --symbols "$(get systemMap)" -o "$out" --verify "$@"
fi
