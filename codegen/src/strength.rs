//! `--equalize auto`: the equalization strength chosen by measurement.
//!
//! Equalization ([`crate::equalize`]) moves part of each tensor's
//! per-channel range spread into its consumers' per-channel weights; how
//! much of it pays depends on the model: the untrained fan-in fixtures
//! favoured 0.5, the trained kit's int8 build 0.25, its default build 0.5
//! (docs/numerics.md). `auto` calibrates the build at each of [`STRENGTHS`]
//! on the calibration inputs [`crate::budget::split`] does not hold out,
//! scores each on the held-out probes ([`crate::budget::Probes`]) with the
//! build's other settings (its 16-bit groups included), and keeps the best;
//! a tie keeps the first measured, the strength the groups were chosen at.
//!
//! Not the default: on the kit (32 calibration images: 8 probes, 24 to
//! calibrate) the probes rank 0.25 first (26.46 dB; 0.5 22.05 dB, 0.75
//! 18.46 dB, 0 25.21 dB), but calibrated on all 32 the default build scores
//! 27.97 dB at 0.25 against 28.58 dB at 0.5 on the 48 evaluation inputs.
//! With a quarter of the images left out, the probes mostly measure how
//! often unseen inputs clip, which stronger equalization makes worse, more
//! than the rounding error the full calibration leaves.

/// The strengths measured: none, then partial ones up to three quarters
/// (full equalization measured worst on every model tried: 19.6 dB on the
/// kit's int8 build, docs/numerics.md).
pub const STRENGTHS: [f64; 4] = [0.0, 0.25, 0.5, 0.75];

/// One measured strength.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Step {
    /// Equalization strength.
    pub alpha: f64,
    /// Input-centred logit SQNR on the probe inputs, in dB.
    pub sqnr_db: f64,
}

/// The chosen strength and every one measured, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// The chosen strength.
    pub alpha: f64,
    /// `first`, then the rest of [`STRENGTHS`].
    pub steps: Vec<Step>,
}

impl Choice {
    /// One line per strength, for the command line; `measured_on` says
    /// which inputs they were measured on.
    pub fn describe(&self, measured_on: &str) -> String {
        let mut s = format!("--equalize auto, measured on {measured_on}:\n");
        for st in &self.steps {
            s += &format!("  alpha {:<5} {:6.2} dB\n", st.alpha, st.sqnr_db);
        }
        s + &format!("  chosen: {}", self.alpha)
    }
}

/// Measures `first` (the strength the rest of the build was chosen at),
/// then every other strength of [`STRENGTHS`], with `sqnr_db_at` (the probe
/// SQNR of the build calibrated at that strength), and keeps the best.
pub fn choose<E>(
    first: f64,
    mut sqnr_db_at: impl FnMut(f64) -> Result<f64, E>,
) -> Result<Choice, E> {
    let order = std::iter::once(first).chain(STRENGTHS.into_iter().filter(|&a| a != first));
    let mut steps = Vec::new();
    for alpha in order {
        steps.push(Step {
            alpha,
            sqnr_db: sqnr_db_at(alpha)?,
        });
    }
    let best = steps
        .iter()
        .fold(steps[0], |b, s| if s.sqnr_db > b.sqnr_db { *s } else { b });
    Ok(Choice {
        alpha: best.alpha,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_strength_wins_and_a_tie_keeps_the_first() {
        let curve = |a: f64| Ok::<_, ()>(20.0 - (a - 0.25).abs() * 8.0);
        let c = choose(0.5, curve).unwrap();
        assert_eq!(c.alpha, 0.25);
        let order: Vec<f64> = c.steps.iter().map(|s| s.alpha).collect();
        assert_eq!(order, [0.5, 0.0, 0.25, 0.75]);
        // A flat curve: the strength the build started from.
        let c = choose(0.5, |_| Ok::<_, ()>(20.0)).unwrap();
        assert_eq!(c.alpha, 0.5);
        // A strength outside the list is measured too, first.
        let c = choose(0.4, |a| Ok::<_, ()>(-(a - 0.4f64).abs())).unwrap();
        assert_eq!((c.alpha, c.steps.len()), (0.4, 5));
        assert!(c.describe("the probe").ends_with("chosen: 0.4"));
    }

    #[test]
    fn an_error_stops_the_choice() {
        let r = choose(0.5, |a| if a == 0.25 { Err("failed") } else { Ok(1.0) });
        assert_eq!(r, Err("failed"));
    }
}
