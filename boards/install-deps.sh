#!/bin/sh
# Installs what the board builds and QEMU runs need on Debian/Ubuntu (as root,
# or with sudo): the emulators, gcc for the QEMU plugin, and the aarch64 Linux
# cross linker and libraries for the Raspberry Pi binary, and flip-link (the
# Cortex-M4/M7 boards' linker: their stack guard). The Rust targets come
# from rust-toolchain.toml (rustup installs them on first use).
set -eu
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    qemu-system-arm qemu-user gcc libc6-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross
command -v flip-link >/dev/null || cargo install flip-link --locked
