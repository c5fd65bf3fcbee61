#!/usr/bin/env bash
# Packs the autograder zip to upload to Gradescope: setup.sh and
# run_autograder at the top, and the course (as tracked by git) in source/.
# usage: instructors/gradescope/make-zip.sh [OUT.zip]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
course=$(cd "$here/../.." && pwd)
out=$(realpath -m "${1:-autograder.zip}")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

cp "$here/setup.sh" "$here/run_autograder" "$stage/"
chmod +x "$stage/setup.sh" "$stage/run_autograder"
mkdir "$stage/source"
git -C "$course" archive --format=tar HEAD | tar -x -C "$stage/source"
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
