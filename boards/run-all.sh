#!/bin/sh
# Runs every emulated board in QEMU, compares each with the host bit for bit,
# and writes target/boards/results.json and target/boards/results.md.
#
#   boards/run-all.sh                      # CI size: 128x128 model, every board
#   boards/run-all.sh --resolution 256     # the benchmark: the pretrained model's size
#   boards/run-all.sh --stage-only         # only generate + stage the model for `cargo run`
#   boards/run-all.sh --stage-only --checkpoint CKPT   # yours, at 256 unless --resolution N
#   boards/run-all.sh --help
#
# Needs QEMU and cross tools: boards/install-deps.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/tools"
exec cargo run --release --quiet -- "$@"
