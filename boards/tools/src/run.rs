//! Every emulated board against the host: builds, runs (in parallel),
//! compares and writes `results.json` / `results.md` ([`run_all`]).

use super::*;

fn hex32(v: u32) -> String {
    format!("{v:#010x}")
}

fn first_difference(a: &[i16], b: &[i16]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Judges one board's runs against the host and writes its JSON entry;
/// `Err` lists what is wrong.
fn board_result(
    b: &Board,
    sizes: &Sizes,
    runs: &[Run],
    host: &Report,
) -> (Value, Result<(), Vec<String>>) {
    let mut problems = Vec::new();
    let first = &runs[0];
    let r = &first.report;
    for (i, run) in runs.iter().enumerate() {
        if run.status != Some(0) || run.report.result != Some(Ok(())) {
            let why = match &run.report.result {
                Some(Err(e)) => e.clone(),
                _ if run.status == Some(124) => "timed out".into(),
                _ => format!("exit status {:?}", run.status),
            };
            problems.push(format!("run {}: {why}", i + 1));
        }
    }
    let layer_instr = r.layer_instructions();
    if layer_instr.is_none() {
        problems.push(format!(
            "{} perf marks for {} layers (firmware made {:?}): instruction counts missing",
            r.perf_marks.len(),
            r.layers.len(),
            r.marks
        ));
    }
    // The inference's per-layer counts, not the absolute marks: the Linux
    // user-mode build's start-up before the first mark varies by a few
    // instructions between runs (seen: 21), which is not the model's code.
    let deterministic = runs
        .iter()
        .all(|x| x.report.layer_instructions() == r.layer_instructions());
    if !deterministic {
        problems.push("instruction counts differ between runs".into());
    }
    let same_output = runs.iter().all(|x| x.report.logits == r.logits);
    let diff = first_difference(&r.logits, &host.logits);
    let matches_host = same_output
        && diff.is_none()
        && !r.logits.is_empty()
        && r.checksum == host.checksum
        && r.top5 == host.top5;
    if !matches_host {
        problems.push(match diff {
            Some(i) => format!(
                "logits differ from the host's, first at class {i} ({} vs {})",
                r.logits.get(i).copied().unwrap_or(0),
                host.logits.get(i).copied().unwrap_or(0)
            ),
            None => "output differs from the host's (checksum or top-5)".into(),
        });
    }
    if r.weights_intact == Some(false) {
        problems.push("weights checksum failed at boot".into());
    }
    let total = r.inference_instructions();
    let macs = r.model_value("macs").unwrap_or(0);
    let layers: Vec<Value> = r
        .layers
        .iter()
        .enumerate()
        .map(|(i, (name, m))| {
            let n = layer_instr.as_ref().map(|v| v[i]);
            json!({
                "name": name, "macs": m, "instructions": n,
                "instructions_per_mac": n.filter(|_| *m > 0).map(|n| n as f64 / *m as f64),
            })
        })
        .collect();
    let weights_bytes = sizes
        .weights
        .map(|w| w.1)
        .or(r.model_value("weights"))
        .unwrap_or(0);
    let v = json!({
        "board": b.name,
        "core": b.core,
        "target": b.target,
        "emulator": b.machine,
        "macs": macs,
        "instructions_total": total,
        "instructions_per_mac": total.filter(|_| macs > 0).map(|t| t as f64 / macs as f64),
        "instructions_boot_to_exit": r.perf_total,
        "layers": layers,
        "arena_bytes": r.model_value("arena"),
        "weights_bytes": weights_bytes,
        "code_bytes": sizes.code,
        "stack_bytes": r.stack.map(|s| s.0),
        "stack_region_bytes": r.stack.map(|s| s.1),
        "weights_address": sizes.weights.map(|w| format!("{:#x}", w.0)),
        "arena_address": sizes.arena.map(|a| format!("{:#x}", a.0)),
        "sections": sizes.sections.iter().map(|(n, a, s)| json!({"name": n, "address": format!("{a:#x}"), "bytes": s})).collect::<Vec<_>>(),
        "output_checksum": r.checksum.map(hex32),
        "top5": r.top5.iter().map(|&(c, q)| json!([c, q])).collect::<Vec<_>>(),
        "matches_host": matches_host,
        "deterministic": deterministic,
        "weights_intact": r.weights_intact,
        "runs": runs.len(),
        "run_seconds": runs.iter().map(|x| (x.seconds * 100.0).round() / 100.0).collect::<Vec<_>>(),
        "ok": problems.is_empty(),
        "problems": problems,
    });
    let verdict = if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    };
    (v, verdict)
}

/// Runs `tasks` (board index, run number) `jobs` at a time.
fn run_parallel(
    opts: &Options,
    boards: &[(Board, PathBuf)],
    log: &(dyn Fn(&str) + Sync),
) -> Vec<Vec<Res<Run>>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let tasks: Vec<(usize, usize)> = (0..opts.runs.max(1))
        .flat_map(|k| (0..boards.len()).map(move |i| (i, k)))
        .collect();
    let results: Mutex<Vec<Vec<Option<Res<Run>>>>> = Mutex::new(
        boards
            .iter()
            .map(|_| (0..opts.runs.max(1)).map(|_| None).collect())
            .collect(),
    );
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, k)) = tasks.get(t) else { break };
                let (b, elf) = &boards[i];
                let run = run_board(opts, b, elf);
                if let Ok(run) = &run {
                    let _ = std::fs::write(
                        opts.logs().join(format!("{}-run{}.log", b.name, k + 1)),
                        &run.text,
                    );
                    log(&format!(
                        "  {:<11} run {}: {:>6.1} s, {}",
                        b.name,
                        k + 1,
                        run.seconds,
                        match (&run.report.result, run.report.inference_instructions()) {
                            (Some(Ok(())), Some(n)) => format!("{n} instructions"),
                            (Some(Err(e)), _) => format!("error: {e}"),
                            _ => format!("exit status {:?}", run.status),
                        }
                    ));
                }
                results.lock().unwrap()[i][k] = Some(run);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|v| {
            v.into_iter()
                .map(|r| r.unwrap_or_else(|| Err("not run".into())))
                .collect()
        })
        .collect()
}

/// Runs the whole pipeline and writes `results.json` and `results.md` under
/// `opts.out`. `Err` only when nothing could be compared (missing tools,
/// model or host reference); board failures are in the summary.
pub fn run_all(opts: &Options, log: &(dyn Fn(&str) + Sync)) -> Res<Summary> {
    let boards: Vec<Board> = opts
        .boards
        .iter()
        .map(|n| {
            BOARDS
                .iter()
                .find(|b| b.name == n)
                .copied()
                .ok_or_else(|| format!("unknown board {n}"))
        })
        .collect::<Res<_>>()?;
    check_tools(&boards)?;
    std::fs::create_dir_all(opts.logs()).map_err(io(opts.logs().display()))?;
    let started = Instant::now();
    let model = prepare_model(opts, &mut |s| log(s))?;
    let resolution = model_resolution(&model)?;
    let frame = test_frame(&opts.image, resolution)?;
    stage(&model, &opts.staged_model(), &frame)?;
    log(&format!(
        "model {} ({resolution}x{resolution}) staged at {}",
        model.display(),
        opts.staged_model().display()
    ));

    log("building and running the host reference ...");
    let host = host_reference(opts)?;
    build_plugin(opts)?;

    let mut built = Vec::new();
    let mut failed: Vec<(Board, String)> = Vec::new();
    for b in &boards {
        log(&format!("building {} ({}) ...", b.name, b.target));
        match build_board(opts, b) {
            Ok(elf) => built.push((*b, elf)),
            Err(e) => failed.push((*b, e)),
        }
    }
    log(&format!(
        "running {} board(s) x {} run(s), {} at a time ...",
        built.len(),
        opts.runs,
        opts.jobs
    ));
    let runs = run_parallel(opts, &built, log);

    let mut entries = Vec::new();
    let mut ok = failed.is_empty();
    for ((b, elf), runs) in built.iter().zip(runs) {
        let runs: Res<Vec<Run>> = runs.into_iter().collect();
        let entry = match (runs, sizes(elf)) {
            (Ok(runs), Ok(sz)) => {
                let (v, verdict) = board_result(b, &sz, &runs, &host);
                if let Err(p) = verdict {
                    ok = false;
                    log(&format!("{}: FAILED: {}", b.name, p.join("; ")));
                }
                v
            }
            (Err(e), _) | (_, Err(e)) => {
                ok = false;
                json!({"board": b.name, "core": b.core, "ok": false, "problems": [e]})
            }
        };
        entries.push(entry);
    }
    for (b, e) in &failed {
        log(&format!("{}: build FAILED", b.name));
        entries.push(json!({"board": b.name, "core": b.core, "ok": false, "problems": [e]}));
    }
    let results = json!({
        "resolution": resolution,
        "model": model.display().to_string(),
        "model_name": model_name(&model),
        "image": format!("{} (timm eval transform, {resolution}x{resolution} centre crop)", opts.image.display()),
        "macs": host.model_value("macs"),
        "layers": host.layers.len(),
        "counting": "executed guest instructions from the QEMU TCG plugin boards/tools/plugin/fastvit_count.c \
                     between perf marks (QEMU has no timing model: not cycles); instructions_total spans the \
                     first layer's start to the last layer's end, input conversion included",
        "host": {
            "triple": host_triple().unwrap_or_default(),
            "output_checksum": host.checksum.map(hex32),
            "top5": host.top5.iter().map(|&(c, q)| json!([c, q])).collect::<Vec<_>>(),
        },
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "ok": ok,
        "boards": entries,
    });
    write_results(opts, "results", &results, &markdown(&results), log)?;
    Ok(Summary { results, ok })
}
