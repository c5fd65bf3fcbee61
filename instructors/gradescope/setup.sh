#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
# The autograder zip holds the student edition of the course under source/
# (see make-zip.sh).
set -euo pipefail

apt-get update -q
apt-get install -y -q --no-install-recommends build-essential curl ca-certificates

if ! command -v cargo >/dev/null; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    source "$HOME/.cargo/env"
fi

cd /autograder/source
# The grader, and every dependency fetched into cargo's cache: grading runs
# offline (each build and each run is cut off from the network).
cargo build --release -p grader
cargo fetch

# Prewarm the staged copy a submission is built in (target/grader/stage):
# grading the course's own stubs stages the course and builds every
# exercise there, so that grading a submission recompiles only the
# student's files. The stubs fail, as they should: hence `|| true`.
./target/release/grader --workspace /autograder/source --runs 1 >/dev/null || true
