#!/bin/sh
# Builds kelpctl_<version>_all.deb from bin/kelpctl into OUTDIR (default
# dist/deb): the script in /usr/sbin (its PACKAGED switch on), the systemd
# unit in /lib/systemd/system, the init script in /etc/init.d (a conffile),
# a man page generated from `kelpctl --help` by help2man, the copyright and
# changelog, lintian's overrides. Deterministic: every file's time is the changelog's date
# (SOURCE_DATE_EPOCH), owners root, so the same sources give the same bytes.
# Needs dpkg-deb, help2man and gzip.
set -eu
# The man page and the script's defaults are the system's, whatever the caller's overrides.
unset KELPCTL_SYSFS KELPCTL_PROC KELPCTL_STATE KELPCTL_ETC KELPCTL_INSMOD KELPCTL_RMMOD
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/dist/deb}
for tool in dpkg-deb help2man gzip; do
	command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: needs $tool (Debian package $( [ "$tool" = dpkg-deb ] && echo dpkg || echo "$tool"))" >&2; exit 1; }
done
version=$(sh "$repo/bin/kelpctl" --version | sed -n 's/^kelpctl //p')
changelog_version=$(sed -n '1s/^kelpctl (\([^)]*\)).*/\1/p' "$here/changelog")
[ "$version" = "$changelog_version" ] || { echo "build.sh: kelpctl says $version, the changelog $changelog_version" >&2; exit 1; }
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' "$here/changelog" | sed -n 1p)" +%s)
export SOURCE_DATE_EPOCH

mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
umask 022
r=$stage/root
mkdir -p "$r/DEBIAN" "$r/usr/sbin" "$r/lib/systemd/system" "$r/etc/init.d" "$r/usr/share/man/man8" "$r/usr/share/doc/kelpctl" "$r/usr/share/lintian/overrides"
sed 's/^PACKAGED=no$/PACKAGED=yes/' "$repo/bin/kelpctl" >"$r/usr/sbin/kelpctl"
grep -q '^PACKAGED=yes$' "$r/usr/sbin/kelpctl" || { echo "build.sh: bin/kelpctl has no PACKAGED=no line" >&2; exit 1; }
chmod 755 "$r/usr/sbin/kelpctl"
install -m 644 "$here/kelpctl.service" "$r/lib/systemd/system/kelpctl.service"
install -m 755 "$here/kelpctl.init" "$r/etc/init.d/kelpctl"
install -m 644 "$here/copyright" "$r/usr/share/doc/kelpctl/copyright"
install -m 644 "$here/lintian-overrides" "$r/usr/share/lintian/overrides/kelpctl"
gzip -9nc "$here/changelog" >"$r/usr/share/doc/kelpctl/changelog.gz"
help2man --no-info --section=8 --source="kelp $version" \
	--name='manage kernel livepatch modules on a running host' \
	--help-option=--help --version-option=--version \
	--output="$stage/kelpctl.8" "$r/usr/sbin/kelpctl"
gzip -9nc "$stage/kelpctl.8" >"$r/usr/share/man/man8/kelpctl.8.gz"
chmod 644 "$r/usr/share/doc/kelpctl/changelog.gz" "$r/usr/share/man/man8/kelpctl.8.gz"
install -m 755 "$here/postinst" "$here/postrm" "$r/DEBIAN/"
echo /etc/init.d/kelpctl >"$r/DEBIAN/conffiles"
(cd "$r" && find usr lib -type f | LC_ALL=C sort | xargs md5sum) >"$r/DEBIAN/md5sums"
size=$(du -k -s --apparent-size --exclude=DEBIAN "$r" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" "$here/control" >"$r/DEBIAN/control"
chmod 644 "$r/DEBIAN/control" "$r/DEBIAN/conffiles" "$r/DEBIAN/md5sums"
find "$r" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/kelpctl_${version}_all.deb
dpkg-deb --root-owner-group -Zxz --build "$r" "$stage/kelpctl.deb" >/dev/null
mv -f "$stage/kelpctl.deb" "$deb"
echo "$deb"
