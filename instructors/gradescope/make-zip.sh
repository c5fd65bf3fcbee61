#!/usr/bin/env bash
# Packs the autograder zip to upload to Gradescope: setup.sh and
# run_autograder at the top, and the course (as committed in git) in source/.
#
# The reference solutions are left out: each solutions/NN/src/lib.rs is
# replaced by the exercise's stub, so the solution crates still build but
# hold nothing a submission could read (a student's code runs with the
# autograder's rights, and `include_str!` reads any file at build time).
# Pass --with-solutions to keep them.
#
# usage: instructors/gradescope/make-zip.sh [--with-solutions] [OUT.zip]
set -euo pipefail
keep_solutions=no
if [ "${1:-}" = "--with-solutions" ]; then
    keep_solutions=yes
    shift
fi
here=$(cd "$(dirname "$0")" && pwd)
course=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:-autograder.zip}")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

cp "$here/setup.sh" "$here/run_autograder" "$stage/"
chmod +x "$stage/setup.sh" "$stage/run_autograder"
mkdir "$stage/source"
git -C "$course" archive --format=tar HEAD | tar -x -C "$stage/source"
if [ "$keep_solutions" = no ]; then
    for solution in "$stage"/source/solutions/*/; do
        name=$(basename "$solution")
        cp "$stage/source/exercises/$name/src/lib.rs" "$solution/src/lib.rs"
    done
fi
(cd "$stage" && rm -f "$out" && python3 - "$out" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk("."):
        for f in files:
            path = os.path.join(root, f)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, "."))
            with open(path, "rb") as fh:
                z.writestr(info, fh.read(), zipfile.ZIP_DEFLATED)
PY
)
echo "wrote $out"
