/*
 * fastvit_count: a QEMU TCG plugin that counts executed guest instructions and
 * logs the running total each time the guest enters its marker function.
 *
 *   qemu-system-arm ... -plugin libfastvit_count.so[,marker=NAME][,mode=insn|tb] \
 *                       -d plugin -D perf.log
 *
 * Output (one line each, via qemu_plugin_outs):
 *   perf mark <k> <instructions executed before the k-th marker call>
 *   perf total <instructions executed until exit>
 *
 * The marker is found by symbol (default `fastvit_perf_mark`, exported by the
 * board support crate): QEMU reads the ELF symbols of the guest it loads.
 * Plugin API v1 cannot read guest registers, so marks are numbered by order.
 *
 * mode=insn (default) adds 1 per executed instruction (exact even if a block
 * stops early); mode=tb adds a block's instruction count when the block
 * starts (faster; exact as long as blocks run to their end, which they do in
 * these firmwares). QEMU has no timing model: these are instructions, not
 * cycles. The guest is single-core and runs without interrupts, so counts are
 * the same on every run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "qemu-plugin-api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

static uint64_t executed;
static uint64_t marks;
static const char *marker = "fastvit_perf_mark";
static bool per_insn = true;
static bool marker_seen = false;
static uint64_t marker_vaddr = 0;

static void on_mark(unsigned int vcpu_index, void *userdata)
{
    char line[96];
    (void)vcpu_index;
    (void)userdata;
    snprintf(line, sizeof line, "perf mark %" PRIu64 " %" PRIu64 "\n", marks++, executed);
    qemu_plugin_outs(line);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    if (n == 0) {
        return;
    }
    /* The marker's first instruction starts a block (it is a call target).
     * QEMU may also end a block inside the marker (e.g. after a stack-pointer
     * write on v8-M with a stack limit); such a block's first instruction
     * carries the marker's symbol too. The entry block is always translated
     * first (a function is entered at its start), so only blocks starting at
     * that address count as a mark. */
    struct qemu_plugin_insn *first = qemu_plugin_tb_get_insn(tb, 0);
    const char *sym = qemu_plugin_insn_symbol(first);
    uint64_t vaddr = qemu_plugin_insn_vaddr(first);
    if (sym && strcmp(sym, marker) == 0 && !marker_seen) {
        marker_seen = true;
        marker_vaddr = vaddr;
    }
    if (sym && marker_seen && vaddr == marker_vaddr && strcmp(sym, marker) == 0) {
        /* Registered before the counter: logs the count *before* the marker. */
        qemu_plugin_register_vcpu_insn_exec_cb(first, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
    if (per_insn) {
        for (size_t i = 0; i < n; i++) {
            qemu_plugin_register_vcpu_insn_exec_inline(qemu_plugin_tb_get_insn(tb, i),
                                                       QEMU_PLUGIN_INLINE_ADD_U64, &executed, 1);
        }
    } else {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
    }
}

static void on_exit(qemu_plugin_id_t id, void *userdata)
{
    char line[96];
    (void)id;
    (void)userdata;
    snprintf(line, sizeof line, "perf total %" PRIu64 "\n", executed);
    qemu_plugin_outs(line);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "marker=", 7) == 0) {
            marker = argv[i] + 7;
        } else if (strcmp(argv[i], "mode=insn") == 0) {
            per_insn = true;
        } else if (strcmp(argv[i], "mode=tb") == 0) {
            per_insn = false;
        } else {
            fprintf(stderr, "fastvit_count: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    if (info->system_emulation && info->system.smp_vcpus != 1) {
        fprintf(stderr, "fastvit_count: needs exactly one vCPU\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
