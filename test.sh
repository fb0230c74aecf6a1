#!/usr/bin/env bash
# The test command: installs what the suite needs on a fresh Debian machine
# (Rust targets, QEMU, the aarch64 cross linker), then runs every check and
# every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")"
# Each section prints the minutes:seconds since the start, so the cost of
# every part is visible in CI logs (the README quotes them).
section() { printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

need_apt=()
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
if ((${#need_apt[@]})); then
    section "installing ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The Cortex-M4/M7 boards link with flip-link (their stack guard).
command -v flip-link >/dev/null || cargo install flip-link --locked --quiet
# rust-toolchain.toml pins the toolchain, components and targets; rustup
# installs them on first use.
rustup show active-toolchain >/dev/null
# A toolchain that was already installed does not always get the file's
# targets; add them one at a time (one failure would roll back a batch).
for t in thumbv7em-none-eabihf thumbv8m.main-none-eabihf aarch64-unknown-none aarch64-unknown-linux-gnu; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done

section "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p fastvit-runtime -p codegen

section "tests (host-tests/tests/boards.rs runs every emulated board under QEMU)"
cargo test --workspace
# The firmware-side helpers live in the boards workspace (its model was just
# staged by host-tests/tests/boards.rs).
(cd boards && cargo test -q -p fastvit-classify)

section "the NEON kernel suites on their instruction set (qemu-aarch64), without and with dotprod"
# Separate target folders: each RUSTFLAGS keeps its own cached build. The
# expected tier is asserted by runtime/tests/fast_kernels.rs.
FASTVIT_EXPECT_TIER="neon (" cargo test -q -p fastvit-runtime \
    --target aarch64-unknown-linux-gnu --target-dir target/qemu-neon
FASTVIT_EXPECT_TIER="neon+dotprod" RUSTFLAGS="-C target-feature=+dotprod" cargo test -q \
    -p fastvit-runtime --target aarch64-unknown-linux-gnu --target-dir target/qemu-dotprod

section "the main job exactly as the README introduces it: cargo run -p codegen -- t8.safetensors"
# (a synthetic checkpoint in the hub file's layout; the output kept out of the tree)
rm -rf target/main-job && mkdir -p target/main-job
cargo run -q -p codegen --example synthetic_checkpoint -- target/main-job/t8.safetensors
cargo run -q -p codegen -- target/main-job/t8.safetensors --out target/main-job/fastvit_t8
cargo check -q --manifest-path target/main-job/fastvit_t8/Cargo.toml --target-dir target/main-job/build

section "MSRV: runtime, testkit and boards/classify on 1.85 (host and thumbv7em), codegen on 1.88"
rustup toolchain install 1.85.0 --profile minimal --target thumbv7em-none-eabihf >/dev/null
rustup toolchain install 1.88.0 --profile minimal >/dev/null
msrv_dir="$PWD/target/msrv"
cargo +1.85.0 check -q -p fastvit-runtime --target-dir "$msrv_dir"
cargo +1.85.0 build -q -p fastvit-runtime --lib --target thumbv7em-none-eabihf --target-dir "$msrv_dir"
# The kit's no_std core is part of the board conformance firmware.
cargo +1.85.0 build -q -p fastvit-testkit --lib --target thumbv7em-none-eabihf --target-dir "$msrv_dir"
(cd boards && cargo +1.85.0 check -q -p fastvit-classify --target-dir "$msrv_dir")
cargo +1.88.0 check -q -p codegen --target-dir "$msrv_dir"

section "all checks passed"
