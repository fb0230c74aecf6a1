//! Writes a synthetic FastViT checkpoint (the built-in generator, untrained
//! weights) in the hub file's layout (timm train-time names, F16, 1000
//! classes), so the main job can be tried exactly as a user runs it on a
//! download, for any supported variant:
//! `cargo run -p codegen --example synthetic_checkpoint -- t8.safetensors [SEED] [--variant t12]`,
//! then `cargo run -p codegen -- t8.safetensors`.
use codegen::arch::{Variant, T8, VARIANTS};
use codegen::checkpoint::{DType, Layout};

const USAGE: &str = "usage: synthetic_checkpoint OUT.safetensors [SEED] [--variant t8|t12|s12]";

fn main() -> Result<(), String> {
    let mut path = None;
    let mut seed = None;
    let mut variant = T8;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--variant" {
            let name = args.next().ok_or(USAGE)?;
            variant = Variant::by_name(&name)
                .filter(|v| v.supported())
                .ok_or_else(|| {
                    let ok: Vec<&str> = VARIANTS
                        .iter()
                        .filter(|v| v.supported())
                        .map(|v| v.name)
                        .collect();
                    format!("--variant {name}: supported are {}", ok.join(", "))
                })?;
        } else if path.is_none() {
            path = Some(a);
        } else if seed.is_none() {
            seed = Some(a.parse::<u64>().map_err(|e| format!("seed {a:?}: {e}"))?);
        } else {
            return Err(USAGE.into());
        }
    }
    let path = path.ok_or(USAGE)?;
    let seed = seed.unwrap_or(1);
    let bytes =
        codegen::synth::checkpoint_bytes(variant, seed, 1000, Layout::TimmTrain, DType::F16);
    std::fs::write(&path, bytes).map_err(|e| format!("{path}: {e}"))?;
    eprintln!(
        "wrote {path}: synthetic {}, seed {seed}, timm layout, F16",
        variant.title()
    );
    Ok(())
}
