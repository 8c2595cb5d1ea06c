#!/bin/sh
# The release list of a fleet build, in the shape a CI matrix takes: reads
# RELEASES_FILE (one release a line as `uname -r` prints it; '#' comments
# and blank lines skipped), checks each against `kelp target list --json`
# (a release Debian does not have, or has without source, fails here, before
# any build job starts), and prints
#   releases=["6.1.0-50-amd64","6.12.95+deb12-amd64"]
# for $GITHUB_OUTPUT (GitHub Actions) or a dotenv report (GitLab CI).
#
#   examples/ci/plan.sh RELEASES_FILE
#
# A kelp without `target list` can build the current bookworm kernel only:
# the plan then accepts that one release and refuses the others.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
kelp="$root/bin/kelp"
file=${1:?usage: plan.sh RELEASES_FILE}
[ -f "$root/dist/src/cli.js" ] || (cd "$root" && npm run build >&2)
[ -r "$file" ] || { echo "kelp: $file: no such file" >&2; exit 1; }
wanted=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$file" | awk 'NF' | LC_ALL=C sort -u)
[ -n "$wanted" ] || { echo "kelp: $file: lists no release" >&2; exit 1; }
if "$kelp" target --help | grep -q "^  list "; then
	known=$("$kelp" target list --refresh --json)
else
	echo "kelp: this kelp has no 'target list'; only the current kernel can be planned" >&2
	known=$("$kelp" target fetch --json | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const t=JSON.parse(s);console.log(JSON.stringify([{release:t.release,source:true}]))})')
fi
printf '%s\n' "$wanted" | KNOWN=$known FILE=$file node -e '
const known = new Map(JSON.parse(process.env.KNOWN).map((r) => [r.release, r]));
let s = "";
process.stdin.on("data", (d) => { s += d; }).on("end", () => {
  const want = s.split("\n").filter((l) => l !== "");
  const bad = want.map((r) => [r, known.get(r)]).filter(([, k]) => k === undefined || k.source === false);
  for (const [r, k] of bad) console.error(`kelp: ${process.env.FILE}: ${r}: ${k === undefined ? "not a release kelp target list knows" : "Debian has no source for it"}`);
  if (bad.length > 0) process.exit(1);
  console.log(`releases=${JSON.stringify(want)}`);
});'
