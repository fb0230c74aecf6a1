//! `results.md`: the board table of a run, as the README quotes it.

use super::*;

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn kib(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

/// The Markdown summary: one row per board, then instructions per layer.
pub fn markdown(results: &Value) -> String {
    let empty = vec![];
    let boards = results["boards"].as_array().unwrap_or(&empty);
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let mut s = format!(
        "{} int8 at {r}x{r} ({} MACs, {} layers), one inference per board in QEMU. \
         Instructions are executed guest instructions (TCG plugin), not cycles. \
         Host checksum {}.\n\n",
        results["model_name"].as_str().unwrap_or("FastViT-T8"),
        thousands(u(&results["macs"])),
        u(&results["layers"]),
        results["host"]["output_checksum"].as_str().unwrap_or("?"),
        r = u(&results["resolution"]),
    );
    s += "| board | core | instructions | instr/MAC | code | weights | arena | stack | checksum | = host | QEMU s |\n";
    s += "|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|\n";
    for b in boards {
        if b["ok"] == json!(false) && b["instructions_total"].is_null() {
            s += &format!(
                "| {} | {} | failed: {} | | | | | | | no | |\n",
                b["board"].as_str().unwrap_or("?"),
                b["core"].as_str().unwrap_or("?"),
                b["problems"][0]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            continue;
        }
        let secs: Vec<f64> = b["run_seconds"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let weights_at = b["weights_address"]
            .as_str()
            .map(|a| format!(" @{a}"))
            .unwrap_or_default();
        s += &format!(
            "| {} | {} | {} | {:.2} | {} | {}{} | {} | {} B | `{}` | {} | {:.1} |\n",
            b["board"].as_str().unwrap_or("?"),
            b["core"].as_str().unwrap_or("?"),
            thousands(u(&b["instructions_total"])),
            b["instructions_per_mac"].as_f64().unwrap_or(0.0),
            kib(u(&b["code_bytes"])),
            kib(u(&b["weights_bytes"])),
            weights_at,
            kib(u(&b["arena_bytes"])),
            thousands(u(&b["stack_bytes"])),
            b["output_checksum"].as_str().unwrap_or("?"),
            if b["matches_host"] == json!(true) {
                "yes"
            } else {
                "**no**"
            },
            secs.iter().sum::<f64>() / secs.len().max(1) as f64,
        );
    }
    // Instructions per layer, in millions, one column per board.
    let with_layers: Vec<&Value> = boards
        .iter()
        .filter(|b| b["layers"].as_array().is_some_and(|l| !l.is_empty()))
        .collect();
    if let Some(first) = with_layers.first() {
        s += "\nExecuted instructions per layer (millions):\n\n| # | layer | MMACs |";
        for b in &with_layers {
            s += &format!(" {} |", b["board"].as_str().unwrap_or("?"));
        }
        s += "\n|---:|---|---:|";
        s += &"---:|".repeat(with_layers.len());
        s += "\n";
        for (i, l) in first["layers"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .enumerate()
        {
            s += &format!(
                "| {i} | {} | {:.2} |",
                l["name"].as_str().unwrap_or("?"),
                u(&l["macs"]) as f64 / 1e6
            );
            for b in &with_layers {
                let n = &b["layers"][i]["instructions"];
                s += &match n.as_u64() {
                    Some(n) => format!(" {:.2} |", n as f64 / 1e6),
                    None => " - |".into(),
                };
            }
            s += "\n";
        }
    }
    s
}
