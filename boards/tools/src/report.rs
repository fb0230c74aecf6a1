//! Parses what a board prints (`support::bench`'s report) and what the QEMU
//! plugin logs (`perf mark K N`, `perf total N`).

/// Everything one run reported.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// `board` line.
    pub board: String,
    /// `core` line.
    pub core: String,
    /// `model` line, `key=value` pairs.
    pub model: Vec<(String, String)>,
    /// `layer` lines: name and MACs, in order.
    pub layers: Vec<(String, u64)>,
    /// `weights_intact` line.
    pub weights_intact: Option<bool>,
    /// `marks` line: perf marks the firmware made.
    pub marks: Option<usize>,
    /// `top5` line: (class, logit).
    pub top5: Vec<(usize, i16)>,
    /// `checksum` line.
    pub checksum: Option<u32>,
    /// `logits` line.
    pub logits: Vec<i16>,
    /// `stack` line: (used, region size).
    pub stack: Option<(u64, u64)>,
    /// `result` line: `Ok` for `result ok`, the message otherwise.
    pub result: Option<Result<(), String>>,
    /// Plugin: instructions executed before each marker call, in order.
    pub perf_marks: Vec<u64>,
    /// Plugin: instructions executed until exit.
    pub perf_total: Option<u64>,
}

impl Report {
    /// A `model` line value.
    pub fn model_value(&self, key: &str) -> Option<u64> {
        self.model
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
    }

    /// Executed instructions per layer (between consecutive marks).
    pub fn layer_instructions(&self) -> Option<Vec<u64>> {
        if self.perf_marks.len() != self.layers.len() + 1 {
            return None;
        }
        Some(self.perf_marks.windows(2).map(|w| w[1] - w[0]).collect())
    }

    /// Executed instructions from the first mark (just before the first
    /// layer) to the last (right after the last layer).
    pub fn inference_instructions(&self) -> Option<u64> {
        self.layer_instructions()?;
        Some(self.perf_marks.last()? - self.perf_marks.first()?)
    }
}

/// Four hex digits per logit (the firmware's `write_hex`).
fn hex_i16s(s: &str) -> Option<Vec<i16>> {
    if s.len() % 4 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(4)
        .map(|i| {
            u16::from_str_radix(s.get(i..i + 4)?, 16)
                .ok()
                .map(|b| b as i16)
        })
        .collect()
}

/// Parses a run's output; unknown lines are ignored.
pub fn parse(text: &str) -> Report {
    let mut r = Report::default();
    for line in text.lines() {
        let line = line.trim_end();
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "board" => r.board = rest.to_string(),
            "core" => r.core = rest.to_string(),
            "model" => {
                r.model = rest
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }
            "layer" => {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if let [index, name, macs] = f[..] {
                    if index.parse() == Ok(r.layers.len()) {
                        r.layers.push((name.to_string(), macs.parse().unwrap_or(0)));
                    }
                }
            }
            "weights_intact" => r.weights_intact = Some(rest == "true"),
            "marks" => r.marks = rest.parse().ok(),
            "top5" => {
                r.top5 = rest
                    .split_whitespace()
                    .filter_map(|cq| {
                        let (c, q) = cq.split_once(':')?;
                        Some((c.parse().ok()?, q.parse().ok()?))
                    })
                    .collect()
            }
            "checksum" => r.checksum = u32::from_str_radix(rest.trim_start_matches("0x"), 16).ok(),
            "logits" => r.logits = hex_i16s(rest).unwrap_or_default(),
            "stack" => {
                let f: Vec<u64> = rest
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if let [used, size] = f[..] {
                    r.stack = Some((used, size));
                }
            }
            "result" => {
                r.result = Some(if rest == "ok" {
                    Ok(())
                } else {
                    Err(rest.trim_start_matches("error ").to_string())
                })
            }
            "perf" => {
                let f: Vec<&str> = rest.split_whitespace().collect();
                match f[..] {
                    ["mark", k, n] if k.parse() == Ok(r.perf_marks.len()) => {
                        if let Ok(n) = n.parse() {
                            r.perf_marks.push(n)
                        }
                    }
                    ["total", n] => r.perf_total = n.parse().ok(),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_report_and_its_marks() {
        let r = parse(
            "board b\ncore c\nmodel input=32x32 layers=2 macs=30\nlayer 0 a 10\nlayer 1 b 20\n\
             marks 3\ntop5 1:5 0:-2\nchecksum 0x0000abcd\nlogits 0005fffe\nstack 100 4096\nresult ok\n\
             perf mark 0 7\nperf mark 1 17\nperf mark 2 57\nperf total 99\n",
        );
        assert_eq!(r.layers, [("a".to_string(), 10), ("b".to_string(), 20)]);
        assert_eq!(r.top5, [(1, 5), (0, -2)]);
        assert_eq!(r.checksum, Some(0xabcd));
        assert_eq!(r.logits, [5, -2]);
        assert_eq!(r.layer_instructions(), Some(vec![10, 40]));
        assert_eq!(r.inference_instructions(), Some(50));
        assert_eq!(r.model_value("macs"), Some(30));
        assert_eq!(r.result, Some(Ok(())));
    }
}
