#!/usr/bin/env python3
"""Generate the timm golden fixtures used by fastvit-edge's host tests.

For every case in ``CASES`` this script

1. builds timm's ``fastvit_t8`` / ``fastvit_t12`` / ``fastvit_s12`` (the case's
   ``variant``; train-time, unfused),
2. fills every state-dict entry from the portable SplitMix64 generator that
   ``codegen/src/prng.rs`` and ``codegen/src/arch.rs`` implement bit-identically
   (see "Synthetic weights" below), optionally rounding through f16/bf16,
3. runs the train-time model and ``timm.models.reparameterize_model(model)``
   on deterministic inputs from the same generator,
4. writes a small JSON golden ``host-tests/fixtures/timm/<case>.json`` with a
   fingerprint of the weights, the logits of both models, their top-5, and
   the sum / sum-of-abs of intermediate (stage) outputs of the train model.

For the first case it additionally proves that the checkpoint layouts the Rust
loader accepts are the ones timm / Apple use (``layout_checks``): Apple's
unfused naming round-trips through ``timm.models.fastvit.checkpoint_filter_fn``
to timm's train state dict, and Apple's reparameterized naming (with
``lkb_reparam``) loads strictly into ``fastvit_t8(inference_mode=True)`` after
the filter plus the ``lkb_reparam -> reparam_conv`` rename.

No checkpoint is ever written into the repository. ``--dump-dir DIR`` (outside
the repo, e.g. /tmp) writes each case's synthetic checkpoint as safetensors in
timm train naming and the stored dtype, which is handy for debugging the Rust
generator against a file.

Usage (pinned: torch==2.15.0, timm==1.0.31, see requirements.txt)::

    python host-tests/scripts/make_fixtures.py            # all cases
    python host-tests/scripts/make_fixtures.py --case seed1_r256_c1000_f32

Synthetic weights (must stay identical to codegen/src/prng.rs + arch.rs)
-------------------------------------------------------------------------
One ``SplitMix64(seed)`` stream is consumed in ``model.state_dict()`` order.
Each float tensor draws ``prod(shape)`` values in row-major order, with
``uniform(lo, hi)`` = ``lo + (hi - lo) * ((next_u64 >> 11) * 2**-53)`` in
float64, rounded once to float32. The range depends on the key:

* ``*num_batches_tracked``: int64 scalar 0, draws nothing;
* BatchNorm (key contains ``.bn.`` or ``.identity.``): weight U(0.25, 1.75),
  bias U(-0.2, 0.2), running_mean U(-0.2, 0.2), running_var U(0.5, 2.0);
* ``*gamma`` (LayerScale): U(0.1, 0.5);
* other ``*.weight``: U(-b, b), ``b = sqrt(3 / fan_in)``, ``fan_in = prod(shape[1:])``;
* other ``*.bias``: U(-0.1, 0.1).

A case stored as f16 / bf16 rounds every float tensor to that dtype
(round-to-nearest-even) and back to float32 before timm sees it.
Inputs with seed ``s``: a fresh ``SplitMix64(s)``, ``uniform(-2, 2)`` for
``3*H*W`` values, shape ``[1, 3, H, W]`` (C order).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import timm
import timm.models.fastvit as timm_fastvit

PINNED_VERSIONS = {"torch": "2.15.0", "timm": "1.0.31"}

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "host-tests" / "fixtures" / "timm"

# Expected (train, reparameterized) state-dict sizes per variant (spec
# fastvit_t8.md §2.1 for T8; T12/S12 have two more RepMixer blocks in stage 2,
# 34 train / 13 reparameterized entries each).
KEY_COUNTS = {
    "fastvit_t8": (462, 156),
    "fastvit_t12": (530, 182),
    "fastvit_s12": (530, 182),
}
DEFAULT_VARIANT = "fastvit_t8"

# Modules whose outputs are fingerprinted in `stages_train` (attribute paths of
# timm's FastVit; forward order).
STAGE_MODULES = ["stem", "stages.0", "stages.1", "stages.2", "stages.3", "final_conv"]


# --------------------------------------------------------------------------
# Portable generator
# --------------------------------------------------------------------------

MASK64 = (1 << 64) - 1
SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
SPLITMIX_M1 = 0xBF58476D1CE4E5B9
SPLITMIX_M2 = 0x94D049BB133111EB


class SplitMix64:
    """SplitMix64 stream, vectorized with numpy uint64 (wrapping arithmetic).

    The n-th output (n = 1, 2, ...) depends only on ``seed + n * GAMMA``, so a
    block of outputs is computed from an index range instead of a loop.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed & MASK64
        self.drawn = 0  # number of outputs consumed so far

    def next_u64(self, count: int) -> np.ndarray:
        """The next ``count`` outputs as a uint64 array."""
        n = np.arange(self.drawn + 1, self.drawn + 1 + count, dtype=np.uint64)
        self.drawn += count
        z = np.uint64(self.seed) + n * np.uint64(SPLITMIX_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(SPLITMIX_M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(SPLITMIX_M2)
        return z ^ (z >> np.uint64(31))

    def uniform(self, lo: float, hi: float, count: int) -> np.ndarray:
        """``count`` draws of U[lo, hi): computed in float64, rounded once to float32."""
        u = (self.next_u64(count) >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)
        return (lo + (hi - lo) * u).astype(np.float32)


def splitmix64_scalar(seed: int, count: int) -> list[int]:
    """Plain-integer reference implementation (used only to self-check)."""
    state, out = seed & MASK64, []
    for _ in range(count):
        state = (state + SPLITMIX_GAMMA) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * SPLITMIX_M1) & MASK64
        z = ((z ^ (z >> 27)) * SPLITMIX_M2) & MASK64
        out.append(z ^ (z >> 31))
    return out


def self_check_generator() -> None:
    """The Rust test vector, and vectorized == scalar across a block boundary."""
    assert splitmix64_scalar(1234567, 2) == [6457827717110365317, 3203168211198807973]
    rng = SplitMix64(1234567)
    got = [int(v) for v in rng.next_u64(2)] + [int(v) for v in rng.next_u64(998)]
    assert got == splitmix64_scalar(1234567, 1000), "vectorized SplitMix64 diverges"
    seed = MASK64 - 5  # exercises the wrapping add of the seed
    assert [int(v) for v in SplitMix64(seed).next_u64(64)] == splitmix64_scalar(seed, 64)
    u = SplitMix64(7).uniform(-0.5, 2.0, 10000)
    assert u.dtype == np.float32 and float(u.min()) >= -0.5 and float(u.max()) <= 2.0


# --------------------------------------------------------------------------
# Synthetic checkpoint
# --------------------------------------------------------------------------

def init_range(key: str, shape: tuple[int, ...]) -> tuple[float, float] | None:
    """The uniform range for a state-dict entry (mirrors arch.rs `Init`), or
    None for the int64 `num_batches_tracked` counter (no draw)."""
    if key.endswith("num_batches_tracked"):
        return None
    if ".bn." in key or ".identity." in key:
        suffix = key.rsplit(".", 1)[1]
        ranges = {
            "weight": (0.25, 1.75),
            "bias": (-0.2, 0.2),
            "running_mean": (-0.2, 0.2),
            "running_var": (0.5, 2.0),
        }
        if suffix not in ranges:
            raise KeyError(f"unexpected BatchNorm entry {key}")
        return ranges[suffix]
    if key.endswith("gamma"):
        return (0.1, 0.5)
    if key.endswith(".weight"):
        fan_in = math.prod(shape[1:])
        b = math.sqrt(3.0 / fan_in)
        return (-b, b)
    if key.endswith(".bias"):
        return (-0.1, 0.1)
    raise KeyError(f"no synthetic init rule for {key}")


STORAGE_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def synth_state_dict(template: "OrderedDict[str, torch.Tensor]", seed: int, dtype: str):
    """Fill every entry of `template` (a timm state dict, whose order is the draw
    order) from SplitMix64(seed).

    Returns (stored, as_f32): `stored` holds the tensors as they would be saved
    (float tensors in the case's dtype), `as_f32` the same values converted to
    float32, which is what timm is loaded with.
    """
    rng = SplitMix64(seed)
    stored, as_f32 = OrderedDict(), OrderedDict()
    for key, ref in template.items():
        shape = tuple(ref.shape)
        rng_range = init_range(key, shape)
        if rng_range is None:
            assert ref.dtype == torch.int64 and shape == (), key
            stored[key] = as_f32[key] = torch.zeros((), dtype=torch.int64)
            continue
        assert ref.dtype == torch.float32, key
        values = rng.uniform(*rng_range, math.prod(shape)).reshape(shape)
        t = torch.from_numpy(values).to(STORAGE_DTYPES[dtype])  # RNE rounding
        stored[key] = t
        as_f32[key] = t.to(torch.float32)
    return stored, as_f32


def fnv1a64(data: bytes, h: int = 0xCBF29CE484222325) -> int:
    """FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3)."""
    prime = 0x100000001B3
    for byte in data:
        h = ((h ^ byte) * prime) & MASK64
    return h


def weights_fingerprint(sd_f32: "OrderedDict[str, torch.Tensor]") -> dict:
    """count / exact sum / exact sum of |x| / FNV-1a 64 of the float tensors,
    in state-dict order, as float32 (after any f16/bf16 rounding)."""
    floats = [t.numpy().astype("<f4", copy=False).ravel() for t in sd_f32.values()
              if t.dtype == torch.float32]
    flat = np.concatenate(floats)
    as_f64 = flat.astype(np.float64)
    return {
        "count": int(flat.size),
        # math.fsum is exactly rounded, hence independent of summation order.
        "sum": math.fsum(as_f64.tolist()),
        "sum_abs": math.fsum(np.abs(as_f64).tolist()),
        "fnv1a64": f"{fnv1a64(flat.tobytes()):016x}",
    }


def make_input(seed: int, resolution: int) -> torch.Tensor:
    """[1, 3, H, W] float32 input: SplitMix64(seed), uniform(-2, 2), C order."""
    n = 3 * resolution * resolution
    values = SplitMix64(seed).uniform(-2.0, 2.0, n)
    return torch.from_numpy(values.reshape(1, 3, resolution, resolution))


# --------------------------------------------------------------------------
# Apple ml-fastvit naming (inverse of timm's checkpoint_filter_fn; mirrors
# arch.rs `timm_to_apple`)
# --------------------------------------------------------------------------

def _timm_to_apple_parts() -> list[tuple[str, str]]:
    """The (timm, Apple) module renames: codegen/src/timm_to_apple.tsv, the
    one table arch.rs `timm_to_apple` reads too."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "codegen", "src", "timm_to_apple.tsv"), encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]


_TIMM_TO_APPLE_PARTS = _timm_to_apple_parts()


def timm_to_apple(key: str) -> str:
    """timm key -> Apple ml-fastvit key (spec §5.2, Appendix C); the
    reparameterized downsample large-kernel conv becomes `lkb_reparam`."""
    k = key
    if k.startswith("stem."):
        k = "patch_embed." + k[len("stem."):]
    elif k.startswith("stages."):
        s, rest = k[len("stages."):].split(".", 1)
        s = int(s)
        if rest.startswith("blocks."):
            k = f"network.{2 * s}.{rest[len('blocks.'):]}"
        elif rest.startswith("downsample."):
            k = f"network.{2 * s - 1}.{rest[len('downsample.'):]}"
        else:
            raise KeyError(f"unexpected stage key {key}")
    elif k.startswith("final_conv."):
        k = "conv_exp." + k[len("final_conv."):]
    elif k.startswith("head.fc."):
        k = "head." + k[len("head.fc."):]
    for timm_part, apple_part in _TIMM_TO_APPLE_PARTS:
        k = k.replace(timm_part, apple_part)
    if k.endswith("layer_scale.gamma"):
        k = k[: -len(".gamma")]
    return k


def layout_checks(train_model, reparam_model, x: torch.Tensor, classes: int,
                  variant: str) -> dict:
    """Prove that the Apple layouts map onto timm's as the Rust loader assumes."""
    filter_fn = timm_fastvit.checkpoint_filter_fn
    train_sd = train_model.state_dict()
    reparam_sd = reparam_model.state_dict()

    # 1. Apple unfused naming -> checkpoint_filter_fn -> exactly timm's train state dict.
    apple_train = OrderedDict((timm_to_apple(k), v) for k, v in train_sd.items())
    assert len(apple_train) == len(train_sd), "Apple renaming is not injective"
    assert not set(apple_train) & set(train_sd), "some key has no Apple spelling"
    back = filter_fn(apple_train, train_model)
    unfused_ok = (list(back) == list(train_sd)
                  and all(torch.equal(back[k], train_sd[k]) for k in train_sd))
    assert unfused_ok, "checkpoint_filter_fn(Apple unfused) != timm train state dict"

    # 2. Apple reparam naming (`lkb_reparam`) -> filter -> `lkb_reparam` rename ->
    #    strict load into <variant>(inference_mode=True) -> same logits.
    apple_reparam = OrderedDict((timm_to_apple(k), v) for k, v in reparam_sd.items())
    n_lkb = sum(".lkb_reparam." in k for k in apple_reparam)
    filtered = filter_fn(apple_reparam, reparam_model)
    infer_model = timm.create_model(variant, pretrained=False, num_classes=classes,
                                    inference_mode=True).eval()
    # timm's filter leaves `lkb_reparam` alone, so without the rename the strict
    # load must fail on exactly those keys (spec §5.3).
    probe = infer_model.load_state_dict(filtered, strict=False)
    filter_only_missing, filter_only_unexpected = len(probe.missing_keys), len(probe.unexpected_keys)
    assert sorted(k.replace(".reparam_conv.", ".lkb_reparam.") for k in probe.missing_keys) \
        == sorted(probe.unexpected_keys), probe
    renamed = OrderedDict((k.replace(".lkb_reparam.", ".reparam_conv."), v) for k, v in filtered.items())
    infer_model.load_state_dict(renamed, strict=True)
    assert list(infer_model.state_dict()) == list(reparam_sd)
    with torch.no_grad():
        diff = (infer_model(x) - reparam_model(x)).abs().max().item()
    reparam_ok = diff == 0.0 or diff < 1e-5
    assert reparam_ok, f"Apple reparam layout gives different logits ({diff})"

    return {
        "train_key_count": len(train_sd),
        "reparam_key_count": len(reparam_sd),
        "apple_unfused_filter_roundtrip": unfused_ok,
        "apple_reparam_lkb_reparam_keys": n_lkb,
        "apple_reparam_filter_only_missing": filter_only_missing,
        "apple_reparam_filter_only_unexpected": filter_only_unexpected,
        "apple_reparam_loads_strict": reparam_ok,
        "apple_reparam_max_abs_diff": f32(diff),
    }


# --------------------------------------------------------------------------
# Running timm
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    seed: int
    resolution: int
    classes: int
    dtype: str  # "f32" | "f16" | "bf16"
    input_seeds: tuple[int, ...]
    layout_checks: bool = False
    # timm model name. The JSON records it only for other variants, so the
    # T8 goldens made before variants existed stay byte-identical.
    variant: str = DEFAULT_VARIANT


CASES = [
    Case("seed1_r256_c1000_f32", 1, 256, 1000, "f32", (101, 102), layout_checks=True),
    Case("seed2_r224_c1000_f32", 2, 224, 1000, "f32", (201,)),
    Case("seed3_r256_c1000_f16", 3, 256, 1000, "f16", (301,)),
    Case("seed4_r256_c10_bf16", 4, 256, 10, "bf16", (401,)),
    Case("t12_seed11_r256_c1000_f32", 11, 256, 1000, "f32", (1101,), layout_checks=True,
         variant="fastvit_t12"),
    Case("t12_seed12_r224_c10_f16", 12, 224, 10, "f16", (1201,), variant="fastvit_t12"),
    Case("s12_seed21_r256_c1000_bf16", 21, 256, 1000, "bf16", (2101,), variant="fastvit_s12"),
    Case("s12_seed22_r224_c1000_f32", 22, 224, 1000, "f32", (2201,), layout_checks=True,
         variant="fastvit_s12"),
]


def f32(v) -> float:
    """A float32 value as the Python float whose repr is its shortest
    float32 round-trip spelling (keeps the JSON small; parse as f64, cast to f32)."""
    return float(str(np.float32(v)))


def f32_list(t: torch.Tensor) -> list[float]:
    return [f32(v) for v in t.detach().to(torch.float32).reshape(-1).numpy()]


def top5(logits: torch.Tensor) -> list[int]:
    """Indices of the 5 largest logits, descending; ties by lower index."""
    v = logits.reshape(-1).numpy()
    return [int(i) for i in np.argsort(-v, kind="stable")[:5]]


def stage_fingerprints(model, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Run `model` with forward hooks on STAGE_MODULES; returns (logits,
    {name: [sum, sum_abs]}) with the sums taken in float64."""
    found, hooks = {}, []
    for name in STAGE_MODULES:
        def hook(_module, _inputs, output, name=name):
            o = output.detach().to(torch.float64)
            found[name] = [o.sum().item(), o.abs().sum().item()]
        hooks.append(model.get_submodule(name).register_forward_hook(hook))
    try:
        logits = model(x)
    finally:
        for h in hooks:
            h.remove()
    return logits, {name: found[name] for name in STAGE_MODULES}


def run_case(case: Case, dump_dir: Path | None) -> tuple[dict, dict]:
    """Build, fill and run one case; returns (golden JSON dict, summary for the log)."""
    model = timm.create_model(case.variant, pretrained=False, num_classes=case.classes)
    template = model.state_dict()
    train_key_count, reparam_key_count = KEY_COUNTS[case.variant]
    assert len(template) == train_key_count, len(template)
    stored, sd = synth_state_dict(template, case.seed, case.dtype)
    model.load_state_dict(sd, strict=True)
    model = model.eval().float()
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], sd[k]) for k in sd), "timm altered the loaded weights"

    if dump_dir is not None:
        from safetensors.torch import save_file
        path = dump_dir / f"{case.name}.safetensors"
        save_file({k: v.contiguous() for k, v in stored.items()}, str(path))
        print(f"  wrote {path}")

    reparam = timm.models.reparameterize_model(model)
    assert len(reparam.state_dict()) == reparam_key_count

    golden = {
        "case": case.name,
        **({} if case.variant == DEFAULT_VARIANT else {"variant": case.variant}),
        "seed": case.seed,
        "resolution": case.resolution,
        "classes": case.classes,
        "dtype": case.dtype,
        "timm_version": timm.__version__,
        "torch_version": torch.__version__,
        "weights": weights_fingerprint(sd),
        "inputs": [],
    }
    summary = {"max_abs_diff": 0.0, "absmax": 0.0}
    with torch.no_grad():
        for input_seed in case.input_seeds:
            x = make_input(input_seed, case.resolution)
            logits_train, stages = stage_fingerprints(model, x)
            logits_reparam = reparam(x)
            diff = (logits_train - logits_reparam).abs().max().item()
            absmax = logits_train.abs().max().item()
            summary["max_abs_diff"] = max(summary["max_abs_diff"], diff)
            summary["absmax"] = max(summary["absmax"], absmax)
            golden["inputs"].append({
                "input_seed": input_seed,
                "logits_train": f32_list(logits_train),
                "logits_reparam": f32_list(logits_reparam),
                "top5_train": top5(logits_train),
                "top5_reparam": top5(logits_reparam),
                "max_abs_diff_train_vs_reparam": f32(diff),
                "stages_train": stages,
            })
        if case.layout_checks:
            x = make_input(case.input_seeds[0], case.resolution)
            golden["layout_checks"] = layout_checks(model, reparam, x, case.classes,
                                                    case.variant)
    return golden, summary


# --------------------------------------------------------------------------

def check_versions(allow_mismatch: bool) -> None:
    have = {"torch": torch.__version__.split("+")[0], "timm": timm.__version__}
    bad = {k: (have[k], v) for k, v in PINNED_VERSIONS.items() if have[k] != v}
    if bad:
        msg = ", ".join(f"{k} {h} (pinned {p})" for k, (h, p) in bad.items())
        if not allow_mismatch:
            sys.exit(f"error: version mismatch: {msg}; see requirements.txt "
                     "(or pass --allow-version-mismatch for a scratch run)")
        print(f"warning: version mismatch: {msg}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                        help=f"where the golden JSONs go (default {DEFAULT_OUT_DIR})")
    parser.add_argument("--case", action="append", choices=[c.name for c in CASES],
                        help="only this case (repeatable; default all)")
    parser.add_argument("--dump-dir", type=Path,
                        help="also write each synthetic checkpoint as <case>.safetensors "
                             "here (must be outside the repository, e.g. /tmp/fixtures)")
    parser.add_argument("--allow-version-mismatch", action="store_true",
                        help="run with other torch/timm versions (do not commit the result)")
    args = parser.parse_args()

    check_versions(args.allow_version_mismatch)
    dump_dir = None
    if args.dump_dir is not None:
        dump_dir = args.dump_dir.resolve()
        if dump_dir == REPO_ROOT or REPO_ROOT in dump_dir.parents:
            sys.exit(f"error: --dump-dir {dump_dir} is inside the repository; "
                     "checkpoints must not be written there")
        dump_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(0)  # nothing here is random, but keep timm's init reproducible
    torch.use_deterministic_algorithms(True)
    self_check_generator()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    selected = [c for c in CASES if not args.case or c.name in args.case]
    t_all = time.perf_counter()
    for case in selected:
        t0 = time.perf_counter()
        golden, summary = run_case(case, dump_dir)
        path = args.out_dir / f"{case.name}.json"
        text = json.dumps(golden, separators=(",", ":"), allow_nan=False)
        path.write_text(text + "\n")
        print(f"{case.name}: max|train-reparam| {summary['max_abs_diff']:.3g}, "
              f"logits absmax {summary['absmax']:.4g}, "
              f"weights fnv1a64 {golden['weights']['fnv1a64']}, "
              f"{len(text) / 1024:.0f} KiB, {time.perf_counter() - t0:.1f} s -> {path}")
    print(f"done in {time.perf_counter() - t_all:.1f} s")


if __name__ == "__main__":
    main()
