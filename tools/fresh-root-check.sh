#!/bin/sh
# Runs README's two commands the way a new user would, in a fresh Debian
# bookworm root instead of this (well used) machine, so that a missing
# prerequisite cannot hide behind a package someone installed by hand:
#
#   1. mmdebstrap --variant=minbase bookworm with only the declared base:
#      make, gcc, g++, python3 (their hard dependencies, no Recommends) and
#      this host's Node.js copied in (its files only: dpkg inside the root
#      does not know about it, so nothing else is installed "by hand");
#   2. a clean `git clone` of REF (default main) of this repository at
#      /work/kelp in the root, and the peer suite (../shared beside the
#      repository, test/support/paths.ts) copied to /work/shared;
#   3. under chroot, as root, with CI=true and /proc, /sys, /dev mounted:
#      `npm ci && npm test`, then `npm ci && npm run example`, each timed.
#      The kelp cache (/root/.cache/kelp) starts empty: everything is cold.
#
#   tools/fresh-root-check.sh [--keep] [--work DIR] [--repo DIR] [--shared DIR]
#                             [--only test|example] [--base-tar FILE] [REF]
#
# This host's network setup goes in with the root: /etc/resolv.conf, the proxy
# variables, and an extra CA bundle for npm when the host has one
# (NODE_EXTRA_CA_CERTS or npm's cafile: a TLS-intercepting proxy's CA). The
# bundle is a file under /etc/fresh-root-check, not the ca-certificates
# package. --base-tar FILE keeps the bootstrapped base (before Node.js and the
# clone) in FILE and reuses it on later runs, to repeat the check faster.
#
# Needs root (mmdebstrap, chroot, mount; mmdebstrap is installed with apt-get
# when missing) and the network (Debian's archive, the npm registry). The root
# lives in a new directory under --work (default /var/tmp) and is deleted at
# the end unless --keep; mounts are undone on every exit. Logs go to
# <root dir>/logs and to stdout. Exit 0 when both commands pass.
set -eu

usage() {
	sed -n '17,18p' "$0" | sed 's/^# *//' >&2
	exit 2
}

here=$(cd "$(dirname "$0")/.." && pwd)
repo=$here
shared=
work=${TMPDIR:-/var/tmp}
keep=0
only=
base_tar=
ref=main
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1 ;;
	--work) [ $# -ge 2 ] || usage; work=$2; shift ;;
	--repo) [ $# -ge 2 ] || usage; repo=$2; shift ;;
	--shared) [ $# -ge 2 ] || usage; shared=$2; shift ;;
	--only) [ $# -ge 2 ] || usage; only=$2; shift ;;
	--base-tar) [ $# -ge 2 ] || usage; base_tar=$2; shift ;;
	-h | --help) usage ;;
	-*) echo "fresh-root-check: unknown option $1" >&2; usage ;;
	*) ref=$1 ;;
	esac
	shift
done
case $only in '' | test | example) ;; *) usage ;; esac
[ -n "$shared" ] || shared=$(cd "$repo/.." && pwd)/shared
[ "$(id -u)" = 0 ] || { echo "fresh-root-check: needs root (mmdebstrap, chroot, mount)" >&2; exit 1; }
[ -d "$shared" ] || { echo "fresh-root-check: $shared: the peer suite is missing (--shared DIR)" >&2; exit 1; }

# What this script runs on the checking host beyond a Debian base (the tools
# test, test/prereq/tools.test.ts, reads this line).
host_packages="mmdebstrap git"
missing=
for p in $host_packages; do
	dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "== installing on this host:$missing"
	# shellcheck disable=SC2086 # a list of package names
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing ||
		{ apt-get -o DPkg::Lock::Timeout=600 update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing; }
fi
commit=$(git -C "$repo" rev-parse --verify -q "$ref^{commit}") ||
	{ echo "fresh-root-check: $repo: no commit '$ref'" >&2; exit 1; }

mkdir -p "$work"
dir=$(mktemp -d "$work/kelp-fresh-root.XXXXXX")
root=$dir/root
logs=$dir/logs
mkdir -p "$logs"
mounted=
selfbound=0

# Stops whatever still runs inside the root (a test's QEMU after an
# interrupt), then undoes the mounts, innermost first.
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	status=$?
	trap - EXIT INT TERM HUP
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	for m in $mounted; do
		umount -R "$root$m" 2>/dev/null || umount -R -l "$root$m" 2>/dev/null || echo "fresh-root-check: could not unmount $root$m" >&2
	done
	if [ "$selfbound" = 1 ]; then
		umount -R "$root" 2>/dev/null || umount -R -l "$root" 2>/dev/null || echo "fresh-root-check: could not unmount $root" >&2
	fi
	if [ "$keep" = 1 ]; then
		echo "fresh-root-check: root kept in $root (logs in $logs)"
	elif ! grep -q " $root/" /proc/self/mounts; then
		rm -rf --one-file-system "$root"
		echo "fresh-root-check: logs in $logs"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

now() { date +%s; }
t0=$(now)

if [ -n "$base_tar" ] && [ -f "$base_tar" ]; then
	echo "== base root from $base_tar"
	mkdir -p "$root"
	tar -C "$root" -xpf "$base_tar"
else
	echo "== mmdebstrap bookworm minbase + make gcc g++ python3 into $root"
	mmdebstrap --variant=minbase --include=make,gcc,g++,python3 bookworm "$root" \
		"deb http://deb.debian.org/debian bookworm main" \
		"deb http://deb.debian.org/debian bookworm-updates main" \
		"deb http://deb.debian.org/debian-security bookworm-security main" >"$logs/mmdebstrap.log" 2>&1 ||
		{ tail -n 30 "$logs/mmdebstrap.log"; echo "fresh-root-check: mmdebstrap failed" >&2; exit 1; }
	if [ -n "$base_tar" ]; then
		tar -C "$root" -cpf "$base_tar.tmp" . && mv -f "$base_tar.tmp" "$base_tar"
	fi
fi
# shellcheck disable=SC2016 # a dpkg-query format, not shell
chroot "$root" dpkg-query -W -f='${Package}\n' | sort >"$logs/base-packages.txt"
echo "   $(wc -l <"$logs/base-packages.txt") packages (list in $logs/base-packages.txt)"

# Node.js: this host's node and npm files only, whatever installed them (a
# Debian package such as nodesource's nodejs, npm upgraded in place, or a
# tarball under /usr/local): dpkg in the root does not know about them.
node=$(readlink -f "$(command -v node)")
prefix=$(dirname "$(dirname "$node")")
echo "== copying Node.js $(node --version) from $prefix (node, npm, npx)"
(
	cd /
	for f in bin/node bin/npm bin/npx bin/corepack lib/node_modules/npm lib/node_modules/corepack; do
		[ -e "$prefix/$f" ] || [ -L "$prefix/$f" ] && printf '%s\n' "${prefix#/}/$f"
	done
) | tar -C / -cf - -T - | tar -C "$root" -xpf - --keep-directory-symlink
chroot "$root" node --version >/dev/null || { echo "fresh-root-check: node does not run in the root" >&2; exit 1; }

echo "== cloning $repo at $ref ($commit) to /work/kelp, $shared to /work/shared"
mkdir -p "$root/work"
git clone -q --no-hardlinks "$repo" "$root/work/kelp"
git -C "$root/work/kelp" checkout -q --detach "$commit"
cp -a "$shared" "$root/work/shared"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
netenv=
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	eval "val=\${$v:-}"
	# shellcheck disable=SC2154 # set by the eval
	[ -z "$val" ] || netenv="$netenv $v=$val"
done
ca=${NODE_EXTRA_CA_CERTS:-}
[ -n "$ca" ] || ca=$(npm config get cafile 2>/dev/null || true)
if [ -n "$ca" ] && [ "$ca" != null ] && [ -f "$ca" ]; then
	mkdir -p "$root/etc/fresh-root-check"
	cp -L "$ca" "$root/etc/fresh-root-check/extra-ca.crt"
	netenv="$netenv NODE_EXTRA_CA_CERTS=/etc/fresh-root-check/extra-ca.crt"
	echo "   npm trusts this host's extra CA bundle ($ca)"
fi

# The root's / must be a mount point, as on a real machine: kelp's build
# roots run under `unshare --mount --propagation private`, which fails when /
# is a plain directory of another file system (a bare chroot).
mount --bind "$root" "$root"
mount --make-private "$root"
selfbound=1
for m in /proc /sys /dev; do
	mkdir -p "$root$m"
	case $m in
	/proc) mount -t proc proc "$root/proc" ;;
	*) mount --rbind "$m" "$root$m" && mount --make-rslave "$root$m" ;;
	esac
	mounted="$m $mounted"
done

# Runs one shell command in the clone, as a fresh CI job would: root, CI=true,
# a clean environment (no KELP_CACHE, no XDG dirs: the kelp cache is
# /root/.cache/kelp, empty).
inroot() {
	# shellcheck disable=SC2086 # NAME=VALUE words without spaces
	chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI=true $netenv \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		sh -c "cd /work/kelp && $1"
}
[ ! -e "$root/root/.cache/kelp" ] || { echo "fresh-root-check: the kelp cache in the root is not empty" >&2; exit 1; }

summary=
failed=0
# run_step NAME COMMAND: runs and times one command, logging to $logs/NAME.log.
run_step() {
	echo "== $1: $2"
	s=$(now)
	rc=0
	{ inroot "$2" 2>&1 || echo "exit $?" >"$logs/$1.rc"; } | tee "$logs/$1.log"
	[ ! -f "$logs/$1.rc" ] || rc=$(sed 's/^exit //' "$logs/$1.rc")
	secs=$(($(now) - s))
	line="$1: exit $rc in ${secs}s"
	summary="$summary$line
"
	echo "== $line"
	[ "$rc" = 0 ] || failed=1
	return 0
}

# README's two commands, each `npm ci && ...`.
if [ "$only" != example ]; then
	run_step npm-ci "npm ci"
	[ -f "$logs/npm-ci.rc" ] || run_step npm-test "npm test"
fi
if [ "$only" != test ]; then
	run_step npm-ci-2 "npm ci"
	[ -f "$logs/npm-ci-2.rc" ] || run_step example "npm run example"
fi

echo
echo "== fresh bookworm root, $ref ($commit), $(($(now) - t0))s in all"
printf '%s' "$summary"
grep -h '^tests: ' "$logs/npm-test.log" 2>/dev/null | tail -n 1 || true
grep -h -E '^(FAIL|  ●) ' "$logs/npm-test.log" 2>/dev/null | head -n 40 || true
if [ "$failed" = 0 ]; then echo "fresh-root-check: passed"; else echo "fresh-root-check: FAILED (logs in $logs)"; fi
exit "$failed"
