//! Derives the kernel tier cfgs from TARGET and the rustflags.
//!
//! Stable rustc exposes no ARM `target_feature` cfgs (`dsp`, `mve`), so the
//! tier is decided here, once, and `src/kernels/mod.rs` selects the module:
//!
//! | cfg              | when                                                              |
//! |------------------|-------------------------------------------------------------------|
//! | `fastvit_dsp`    | thumbv7em (M4, M7); thumbv8m.main with `target-cpu=cortex-m33`/`cortex-m35p` or `+dsp` (and no MVE) |
//! | `fastvit_mve`    | thumbv8m.main with `target-cpu=cortex-m55`/`cortex-m85` or `+mve` |
//! | `fastvit_dotprod`| aarch64 with `+dotprod` or a dotprod core (`cortex-a55/a75/a76/a77/a78`, `neoverse-n1`, ...) |
//! | `fastvit_neon`   | any aarch64 target (NEON is baseline)                             |

use std::env;

fn main() {
    for cfg in [
        "fastvit_dsp",
        "fastvit_mve",
        "fastvit_dotprod",
        "fastvit_neon",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    println!("cargo::rerun-if-changed=build.rs");
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let (mut cpu, mut features) = (String::new(), Vec::<String>::new());
    let mut args = flags.split('\x1f').filter(|a| !a.is_empty()).peekable();
    while let Some(arg) = args.next() {
        let opt = match arg.strip_prefix("-C") {
            Some("") => args.next().unwrap_or_default().to_string(),
            Some(rest) => rest.to_string(),
            None if arg == "--codegen" => args.next().unwrap_or_default().to_string(),
            None => continue,
        };
        if let Some(c) = opt.strip_prefix("target-cpu=") {
            cpu = c.to_string();
        } else if let Some(f) = opt.strip_prefix("target-feature=") {
            features.extend(f.split(',').map(str::to_string));
        }
    }
    let has = |f: &str| {
        features
            .iter()
            .rev()
            .find(|x| x.get(1..) == Some(f))
            .is_some_and(|x| x.starts_with('+'))
    };
    let cpu_in = |list: &[&str]| list.contains(&cpu.as_str());
    let tier = if target.starts_with("thumbv8m.main") {
        if has("mve") || has("mve.fp") || cpu_in(&["cortex-m55", "cortex-m85"]) {
            "mve"
        } else if has("dsp") || cpu_in(&["cortex-m33", "cortex-m35p"]) {
            "dsp"
        } else {
            "reference"
        }
    } else if target.starts_with("thumbv7em") {
        "dsp"
    } else if target.starts_with("aarch64") {
        let dot_cpus = [
            "cortex-a55",
            "cortex-a65",
            "cortex-a75",
            "cortex-a76",
            "cortex-a77",
            "cortex-a78",
            "cortex-a510",
            "cortex-a710",
            "cortex-x1",
            "neoverse-n1",
            "neoverse-n2",
            "neoverse-v1",
            "apple-m1",
        ];
        if has("dotprod") || cpu_in(&dot_cpus) {
            println!("cargo::rustc-cfg=fastvit_dotprod");
        }
        println!("cargo::rustc-cfg=fastvit_neon");
        "neon"
    } else {
        "reference"
    };
    match tier {
        "dsp" => println!("cargo::rustc-cfg=fastvit_dsp"),
        "mve" => println!("cargo::rustc-cfg=fastvit_mve"),
        _ => {}
    }
}
