//! Writes the built-in synthetic FastViT-T8 as a checkpoint file in the hub
//! file's layout (timm train-time names, F16, 1000 classes), so the main job
//! can be tried exactly as a user runs it on a download:
//! `cargo run -p codegen --example synthetic_checkpoint -- t8.safetensors [SEED]`,
//! then `cargo run -p codegen -- t8.safetensors`.
use codegen::checkpoint::{DType, Layout};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: synthetic_checkpoint OUT.safetensors [SEED]")?;
    let seed = match args.next() {
        Some(s) => s.parse().map_err(|e| format!("seed {s:?}: {e}"))?,
        None => 1,
    };
    let bytes = codegen::synth::checkpoint_bytes(seed, 1000, Layout::TimmTrain, DType::F16);
    std::fs::write(&path, bytes).map_err(|e| format!("{path}: {e}"))?;
    eprintln!("wrote {path}: synthetic FastViT-T8, seed {seed}, timm layout, F16");
    Ok(())
}
