#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
# The autograder zip holds the course under source/ (see make-zip.sh).
set -euo pipefail

apt-get update -q
apt-get install -y -q --no-install-recommends build-essential curl ca-certificates

if ! command -v cargo >/dev/null; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
# shellcheck disable=SC1091
source "$HOME/.cargo/env"

# Build the grader and every exercise once, so that grading a submission
# only recompiles the student's own files.
cd /autograder/source
cargo build --release --workspace
