#!/usr/bin/env bash
# Packs the autograder zip to upload to Gradescope: setup.sh and
# run_autograder at the top, and in source/ the student edition of the
# course as committed in git (`grader export-student`): no solutions/, no
# tests/ (whose fixtures are near-solutions), none of the grader's own
# tests. A student's code runs with the autograder's rights, and
# `include_str!` reads any file at build time: what is not in the zip,
# no submission can read.
#
# usage: instructors/gradescope/make-zip.sh [OUT.zip]
#
# The export is made by this checkout's grader (built with cargo if need
# be), or by the grader binary named by GRADER.
set -euo pipefail

if [ "$#" -gt 1 ] || [[ "${1:-}" == -* ]]; then
    echo "usage: $0 [OUT.zip]" >&2
    echo "  packs setup.sh, run_autograder and the student edition of the committed course" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
course=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:-autograder.zip}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$(git -C "$course" status --porcelain)" ]; then
    echo "note: the zip holds the course as committed (HEAD); uncommitted changes are not in it" >&2
fi
mkdir "$work/committed" "$work/zip"
git -C "$course" archive --format=tar HEAD | tar -x -C "$work/committed"

if [ -n "${GRADER:-}" ]; then
    grader=("$GRADER")
else
    grader=(cargo run -q --release --manifest-path "$course/Cargo.toml" -p grader --)
fi
"${grader[@]}" export-student --from "$work/committed" "$work/zip/source"

cp "$here/setup.sh" "$here/run_autograder" "$work/zip/"
chmod +x "$work/zip/setup.sh" "$work/zip/run_autograder"
rm -f "$out"
(cd "$work/zip" && python3 - "$out" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk("."):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(root, f)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, "."))
            with open(path, "rb") as fh:
                z.writestr(info, fh.read(), zipfile.ZIP_DEFLATED)
PY
)
echo "wrote $out"
