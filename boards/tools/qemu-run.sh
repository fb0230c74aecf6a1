#!/bin/sh
# Runs one board's firmware in QEMU with the instruction-counting plugin, and
# prints the firmware's report followed by the plugin's marks and a per-layer
# table. The only place that knows each board's QEMU command line: the cargo
# runner of every emulated board and `boards/tools` (run-all) both call it.
#
#   qemu-run.sh BOARD ELF
#   qemu-run.sh --plugin        (only build the plugin; prints its path)
#
# Environment: FASTVIT_QEMU_TIMEOUT (seconds, default 900),
#              FASTVIT_PLUGIN_MODE (insn|tb, default insn),
#              FASTVIT_RAW=1 (skip the human-readable per-layer table).
# Exit status: QEMU's (the firmware's semihosting exit status), 124 on timeout,
# 2 on usage errors or a missing tool.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
plugin_dir=$repo/target/boards/plugin
plugin=$plugin_dir/libfastvit_count.so
src=$here/plugin/fastvit_count.c
semi="-semihosting-config enable=on,target=native"

need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "qemu-run.sh: '$1' is not installed. Install the emulators and tools with: boards/install-deps.sh" >&2
    exit 2
}

# Build the plugin on first use (and when its source changes).
build_plugin() {
    if [ ! -f "$plugin" ] || [ "$src" -nt "$plugin" ] || [ "$here/plugin/qemu-plugin-api.h" -nt "$plugin" ]; then
        need gcc
        mkdir -p "$plugin_dir"
        gcc -shared -fPIC -O2 -Wall -Wextra -fvisibility=hidden -o "$plugin.$$" "$src"
        mv "$plugin.$$" "$plugin"
    fi
}

if [ "${1:-}" = --plugin ]; then
    build_plugin
    echo "$plugin"
    exit 0
fi
if [ $# -lt 2 ]; then
    echo "usage: $0 BOARD ELF | $0 --plugin" >&2
    exit 2
fi
board=$1
elf=$2

case $board in
mps2-an386) qemu="qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic $semi" ;;
mps2-an500) qemu="qemu-system-arm -M mps2-an500 -cpu cortex-m7 -nographic $semi" ;;
mps2-an505) qemu="qemu-system-arm -M mps2-an505 -cpu cortex-m33 -nographic $semi" ;;
mps3-an547) qemu="qemu-system-arm -M mps3-an547 -cpu cortex-m55 -nographic $semi" ;;
virt-a53) qemu="qemu-system-aarch64 -M virt -cpu cortex-a53 -smp 1 -m 64M -nic none -nographic $semi" ;;
virt-a76) qemu="qemu-system-aarch64 -M virt -cpu cortex-a76 -smp 1 -m 64M -nic none -nographic $semi" ;;
rpi) qemu="qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu" ;;
*)
    echo "qemu-run.sh: unknown board '$board'" >&2
    exit 2
    ;;
esac

need "${qemu%% *}"
need timeout
build_plugin

log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
mode=${FASTVIT_PLUGIN_MODE:-insn}
if [ "$board" = rpi ]; then
    set -- $qemu -plugin "$plugin,mode=$mode" -d plugin -D "$log" "$elf"
else
    set -- $qemu -plugin "$plugin,mode=$mode" -d plugin -D "$log" -kernel "$elf"
fi
status=0
timeout "${FASTVIT_QEMU_TIMEOUT:-900}" "$@" </dev/null >"$out" || status=$?
cat "$out"
cat "$log"
if [ "$status" -eq 124 ]; then
    echo "qemu-run.sh: $board timed out after ${FASTVIT_QEMU_TIMEOUT:-900} s" >&2
fi
if [ "${FASTVIT_RAW:-0}" != 1 ]; then
    # Per-layer executed instructions: mark i+1 minus mark i, next to layer i.
    awk '
        FNR == NR && $1 == "layer" { name[$2] = $3; macs[$2] = $4; n = $2 + 1; next }
        FNR != NR && $1 == "perf" && $2 == "mark" { mark[$3] = $4 }
        END {
            if (!(0 in mark)) exit
            printf "\n%-5s %-44s %13s %15s %9s\n", "layer", "name", "MACs", "instructions", "instr/MAC"
            for (i = 0; i < n && (i + 1) in mark; i++) {
                d = mark[i + 1] - mark[i]; tm += macs[i]
                per = "-"
                if (macs[i] > 0) per = sprintf("%.2f", d / macs[i])
                printf "%-5d %-44s %13.0f %15.0f %9s\n", i, name[i], macs[i], d, per
            }
            if (n in mark) printf "%-5s %-44s %13.0f %15.0f %9.2f\n", "", "total", tm, mark[n] - mark[0], (mark[n] - mark[0]) / tm
        }' "$out" "$log"
fi
exit "$status"
