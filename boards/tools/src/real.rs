//! The real boards (no hardware here): their firmware is built and linked
//! at the largest resolution whose arena fits the part, and the linker's
//! verdict on every memory is recorded.

use super::*;

/// A real board: built here (no hardware attached), flashed with probe-rs.
#[derive(Clone, Copy, Debug)]
pub struct RealBoard {
    /// Folder, crate and binary name under `boards/`.
    pub name: &'static str,
    /// The part.
    pub core: &'static str,
    /// Rust target triple.
    pub target: &'static str,
    /// Flash and RAM the firmware must fit: (name, bytes).
    pub memories: &'static [(&'static str, u64)],
    /// A smaller-flash build that must link and fit, built for size.
    pub small_flash: Option<SmallFlash>,
}

/// A build for a board variant with less flash (the standard 4 MB Pico 2):
/// built with `--no-default-features --features <feature>` at opt-level
/// "z"; its linker script holds flash to `bytes`, and the spare is measured.
#[derive(Clone, Copy, Debug)]
pub struct SmallFlash {
    /// The cargo feature selecting it.
    pub feature: &'static str,
    /// The board it stands for.
    pub board: &'static str,
    /// Flash base address.
    pub origin: u64,
    /// Flash size.
    pub bytes: u64,
}

/// Model resolutions a real board's build tries, largest first: it uses the
/// first whose arena the linker fits into the part's RAM (one ladder for
/// every board; the part decides where it stops).
pub const RESOLUTIONS: &[usize] = &[256, 224, 192, 160, 128];

/// The real boards. Each builds at the largest resolution (up to the
/// pretrained 256) whose arena its RAM holds: the linker decides.
pub const REAL_BOARDS: &[RealBoard] = &[
    RealBoard {
        name: "rp2350",
        core: "RP2350 (Cortex-M33, 150 MHz), 520 KiB SRAM, 16 MiB QSPI flash (e.g. Pimoroni Pico Plus 2)",
        target: "thumbv8m.main-none-eabihf",
        memories: &[("QSPI flash", 16 << 20), ("SRAM0-7", 512 << 10)],
        small_flash: Some(SmallFlash {
            feature: "flash-4m",
            board: "Raspberry Pi Pico 2 (4 MiB QSPI flash)",
            origin: 0x1000_0000,
            bytes: 4 << 20,
        }),
    },
    RealBoard {
        name: "imxrt1170",
        core: "i.MX RT1170 (Cortex-M7, up to 1 GHz), 1.25 MiB OCRAM + 512 KiB TCM, 16 MiB QSPI flash (MIMXRT1170-EVK)",
        target: "thumbv7em-none-eabihf",
        memories: &[("QSPI flash", 16 << 20), ("OCRAM", 1280 << 10)],
        small_flash: None,
    },
];

/// Builds every real board's firmware at the largest resolution that fits
/// (or at `resolution`, e.g. to reuse the CI model), checks that the
/// configurations that must not fit do not link, and writes
/// `real-boards.json` and `real-boards.md`.
pub fn build_real(
    opts: &Options,
    resolution: Option<usize>,
    log: &(dyn Fn(&str) + Sync),
) -> Res<Summary> {
    std::fs::create_dir_all(opts.logs()).map_err(io(opts.logs().display()))?;
    let mut entries = Vec::new();
    let mut ok = true;
    for b in REAL_BOARDS {
        let dir = opts.board_dir(b.name);
        let staged = opts.repo.join(format!("target/boards/model-{}", b.name));
        let log_file = opts.logs().join(format!("{}-build.log", b.name));
        // The largest resolution whose arena fits, unless one is imposed.
        let candidates: Vec<usize> = match resolution {
            Some(r) => vec![r],
            None => RESOLUTIONS.to_vec(),
        };
        let mut tried = Vec::new();
        let mut built = Err(String::from("no resolution tried"));
        let mut res = candidates[0];
        for &r in &candidates {
            res = r;
            let model = prepare_model(
                &Options {
                    resolution: r,
                    model: None,
                    ..opts.clone()
                },
                &mut |s| log(s),
            )?;
            stage(&model, &staged, &test_frame(&opts.image, r)?)?;
            log(&format!(
                "building {} ({}) at {r}x{r} ...",
                b.name, b.target
            ));
            built = cargo_build(&dir, &[], &log_file);
            match &built {
                Err(e) if r != *candidates.last().unwrap() && does_not_fit_ram(e) => {
                    log(&format!(
                        "  the {r}x{r} arena does not fit {}'s RAM",
                        b.name
                    ));
                    tried.push(json!({"resolution": r, "linker": overflow_line(e)}));
                }
                _ => break,
            }
        }
        let elf = opts.release_bin(b.name, b.target, b.name);
        let mut problems = Vec::new();
        let mut entry = json!({
            "board": b.name, "core": b.core, "target": b.target, "resolution": res,
            "too_large": tried,
            "memories": b.memories.iter().map(|(n, s)| json!({"name": n, "bytes": s})).collect::<Vec<_>>(),
        });
        match built.and_then(|()| sizes(&elf)) {
            Ok(sz) => {
                entry["code_bytes"] = json!(sz.code);
                entry["weights_bytes"] = json!(sz.weights.map(|w| w.1));
                entry["weights_address"] = json!(sz.weights.map(|w| format!("{:#x}", w.0)));
                entry["arena_bytes"] = json!(sz.arena.map(|a| a.1));
                entry["arena_address"] = json!(sz.arena.map(|a| format!("{:#x}", a.0)));
                entry["sections"] = json!(sz
                    .sections
                    .iter()
                    .map(|(n, a, s)| json!({"name": n, "address": format!("{a:#x}"), "bytes": s}))
                    .collect::<Vec<_>>());
            }
            Err(e) => problems.push(e),
        }
        if let Some(small) = b.small_flash {
            let (entry_small, problem) = build_small_flash(opts, b, &small, &elf);
            entry["small_flash"] = entry_small;
            problems.extend(problem);
        }
        entry["ok"] = json!(problems.is_empty());
        entry["problems"] = json!(problems);
        if !problems.is_empty() {
            ok = false;
            log(&format!("{}: FAILED: {}", b.name, problems.join("; ")));
        }
        entries.push(entry);
    }
    let results = json!({"ok": ok, "boards": entries});
    write_results(opts, "real-boards", &results, &real_markdown(&results), log)?;
    Ok(Summary { results, ok })
}

/// Builds `small`'s variant of board `b` for size and measures what its
/// flash holds: `.text`, `.rodata`, the weights, the bytes loaded into flash
/// and the spare (from the ELF's load segments, so `.data`'s flash copy
/// counts). Built after the default build was sized: it overwrites `elf`.
/// A link failure is recorded with the linker's line and by how many bytes
/// it overflowed.
fn build_small_flash(
    opts: &Options,
    b: &RealBoard,
    small: &SmallFlash,
    elf: &Path,
) -> (Value, Option<String>) {
    let feature = small.feature;
    let args = [
        "--no-default-features",
        "--features",
        feature,
        "--config",
        "profile.release.opt-level=\"z\"",
    ];
    let log_file = opts.logs().join(format!("{}-{feature}-build.log", b.name));
    let mut entry = json!({"features": feature, "board": small.board, "flash_bytes": small.bytes});
    if let Err(e) = cargo_build(&opts.board_dir(b.name), &args, &log_file) {
        let line = overflow_line(&e);
        entry["linker"] = json!(line);
        entry["overflow_bytes"] = json!(line.as_deref().and_then(overflow_bytes));
        let why = match &line {
            Some(l) => format!("`--features {feature}` does not fit: {l}"),
            None => format!(
                "`--features {feature}` failed to build (log: {})",
                log_file.display()
            ),
        };
        return (entry, Some(why));
    }
    let measured = std::fs::read(elf)
        .map_err(|e| format!("{}: {e}", elf.display()))
        .and_then(|bytes| {
            let end = elf::loaded_end(&bytes, small.origin, small.origin + small.bytes)?;
            Ok((elf::sections(&bytes)?, end))
        });
    let (secs, end) = match measured {
        Ok((secs, Some(end))) => (secs, end),
        Ok((_, None)) => {
            return (
                entry,
                Some(format!("{}: nothing loads into flash", elf.display())),
            )
        }
        Err(e) => return (entry, Some(e)),
    };
    let size = |n: &str| secs.iter().find(|s| s.name == n).map_or(0, |s| s.size);
    let used = end - small.origin;
    entry["linked"] = json!(true);
    entry["text_bytes"] = json!(size(".text"));
    entry["rodata_bytes"] = json!(size(".rodata"));
    entry["weights_bytes"] = json!(size(".fastvit_weights"));
    entry["used_bytes"] = json!(used);
    entry["spare_bytes"] = json!(small.bytes.saturating_sub(used));
    (entry, None)
}

/// Whether a failed build's output says RAM overflowed (the arena), as
/// opposed to any other error.
fn does_not_fit_ram(build_error: &str) -> bool {
    build_error.contains("fastvit: ")
        || build_error
            .lines()
            .any(|l| l.contains("will not fit in region") && !l.contains("FLASH"))
}

/// The linker's "overflowed" or assertion line, if any.
fn overflow_line(build_error: &str) -> Option<String> {
    build_error
        .lines()
        .find(|l| l.contains("overflowed") || l.contains("fastvit: "))
        .map(|l| l.trim().trim_start_matches("= note:").trim().to_string())
}

/// The byte count of a linker line such as "region `FLASH' overflowed by
/// 23432 bytes".
fn overflow_bytes(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once("overflowed by ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The Markdown summary of the real-board builds.
pub fn real_markdown(results: &Value) -> String {
    let empty = vec![];
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let mut s = String::from(
        "| board | model | code | weights | arena | fits | smaller flash |\n|---|---|---:|---:|---:|---|---|\n",
    );
    for b in results["boards"].as_array().unwrap_or(&empty) {
        s += &format!(
            "| {} | {r}x{r} | {} | {} @{} | {} @{} | {} | {} |\n",
            b["board"].as_str().unwrap_or("?"),
            kib(u(&b["code_bytes"])),
            kib(u(&b["weights_bytes"])),
            b["weights_address"].as_str().unwrap_or("?"),
            kib(u(&b["arena_bytes"])),
            b["arena_address"].as_str().unwrap_or("?"),
            b["memories"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|m| format!(
                    "{} {}",
                    m["name"].as_str().unwrap_or("?"),
                    kib(u(&m["bytes"]))
                ))
                .collect::<Vec<_>>()
                .join(", "),
            match &b["small_flash"] {
                Value::Null => "-".to_string(),
                m if m["linked"] == true => format!(
                    "`--features {}` ({}): {} used, {} B spare",
                    m["features"].as_str().unwrap_or("?"),
                    m["board"].as_str().unwrap_or(""),
                    kib(u(&m["used_bytes"])),
                    u(&m["spare_bytes"])
                ),
                m => format!(
                    "`--features {}` ({}): does not fit (`{}`)",
                    m["features"].as_str().unwrap_or("?"),
                    m["board"].as_str().unwrap_or(""),
                    m["linker"].as_str().unwrap_or("?")
                ),
            },
            r = u(&b["resolution"]),
        );
    }
    s
}
