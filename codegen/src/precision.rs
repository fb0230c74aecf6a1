//! Which activation tensors are stored with 16 bits (`--int16`).
//!
//! Measured on the trained proxy kit (docs/numerics.md): the int8 logits
//! alone cap the centred logit SQNR, and 16-bit logits plus the pooled vector
//! that feeds them gain 0.76 dB for 1,768 more bytes of arena at 1000
//! classes (not at the peak): the default, `head`. A stage's residual stream
//! (`stages.N`: the stage's input, each token mixer's output and each
//! block's output) at 16 bits is the next gain the float simulation shows;
//! those layers run the reference conv forms, which read and write int16,
//! so they are opt-in until the fast kernels take int16 operands.

use std::fmt;

/// A group of tensors stored with 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// The pooled vector and the logits.
    Head,
    /// The residual stream of stage `N`.
    Stream(usize),
    /// The ConvMlp internals of stage `N`: each block's `dw` output (the
    /// input of `fc1`) and `fc2` output (the residual branch); the hidden
    /// vectors stay int8.
    Mlp(usize),
    /// The output of stage `N`'s downsample `proj.0` (the large-kernel
    /// conv), the input of its `proj.1`.
    Downsample(usize),
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Group::Head => f.write_str("head"),
            Group::Stream(s) => write!(f, "stages.{s}"),
            Group::Mlp(s) => write!(f, "stages.{s}.mlp"),
            Group::Downsample(s) => write!(f, "stages.{s}.downsample"),
        }
    }
}

/// The 16-bit groups of a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Precision(Vec<Group>);

impl Default for Precision {
    fn default() -> Self {
        Precision(vec![Group::Head])
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<String> = self.0.iter().map(Group::to_string).collect();
        f.write_str(&names.join(","))
    }
}

impl serde::Serialize for Precision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Group::to_string))
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    /// `none`, or a comma-separated list of `head`, `stages.N`,
    /// `stages.N.mlp` (N in 0..=3) and `stages.N.downsample` (N in 1..=3).
    fn from_str(spec: &str) -> Result<Self, String> {
        if spec == "none" {
            return Ok(Precision(Vec::new()));
        }
        let mut groups = Vec::new();
        for item in spec.split(',').map(str::trim) {
            let stage = |n: &str| n.parse::<usize>().ok().filter(|&s| s < 4);
            let rest = item.strip_prefix("stages.").unwrap_or("");
            let down = rest.strip_suffix(".downsample").and_then(stage);
            let g = match (item, rest.strip_suffix(".mlp").and_then(stage)) {
                ("head", _) => Group::Head,
                (_, Some(s)) => Group::Mlp(s),
                _ if down.is_some_and(|s| s > 0) => Group::Downsample(down.unwrap_or(1)),
                _ => match stage(rest) {
                    Some(s) => Group::Stream(s),
                    None => {
                        return Err(format!(
                            "`{item}` is not a 16-bit group: expected `none` or a comma-separated \
                             list of `head`, `stages.0` .. `stages.3`, `stages.0.mlp` .. \
                             `stages.3.mlp` and `stages.1.downsample` .. `stages.3.downsample`"
                        ))
                    }
                },
            };
            groups.push(g);
        }
        groups.sort();
        groups.dedup();
        Ok(Precision(groups))
    }
}

impl Precision {
    /// The groups, in order.
    pub fn groups(&self) -> &[Group] {
        &self.0
    }

    /// These groups and `g`.
    pub fn with(&self, g: Group) -> Precision {
        let mut groups = self.0.clone();
        groups.push(g);
        groups.sort();
        groups.dedup();
        Precision(groups)
    }

    /// Whether the tensor `name` (its float observation name) is stored as
    /// int16.
    pub fn is_wide(&self, name: &str) -> bool {
        self.0.iter().any(|g| match *g {
            Group::Head => name == "head.global_pool" || name == "head.fc",
            Group::Stream(s) => in_stream(s, name),
            Group::Mlp(s) => in_mlp(s, name),
            Group::Downsample(s) => name == format!("stages.{s}.downsample.proj.0.reparam_conv"),
        })
    }
}

/// Whether `name` is a ConvMlp tensor of stage `s` stored wide by
/// [`Group::Mlp`]: a block's `mlp.conv.conv` (the `dw` output) or
/// `mlp.fc2`.
fn in_mlp(s: usize, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(&format!("stages.{s}.blocks.")) else {
        return false;
    };
    let (block, tail) = rest.split_once('.').unwrap_or((rest, ""));
    !block.is_empty()
        && block.bytes().all(|b| b.is_ascii_digit())
        && (tail == "mlp.conv.conv" || tail == "mlp.fc2")
}

/// Whether `name` is a tensor of stage `s`'s residual stream: its input (the
/// stem's last conv or the downsample's `proj.1`, after GELU), a token
/// mixer's output or a block's output.
fn in_stream(s: usize, name: &str) -> bool {
    let input = if s == 0 {
        "stem.2.reparam_conv.act".to_string()
    } else {
        format!("stages.{s}.downsample.proj.1.reparam_conv.act")
    };
    if name == input {
        return true;
    }
    let Some(rest) = name.strip_prefix(&format!("stages.{s}.blocks.")) else {
        return false;
    };
    let (block, tail) = rest.split_once('.').unwrap_or((rest, ""));
    !block.is_empty()
        && block.bytes().all(|b| b.is_ascii_digit())
        && (tail.is_empty() || tail == "token_mixer.reparam_conv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_and_name_their_tensors() {
        let p: Precision = "stages.2,head".parse().unwrap();
        assert_eq!(p.to_string(), "head,stages.2");
        for t in [
            "head.fc",
            "head.global_pool",
            "stages.2.downsample.proj.1.reparam_conv.act",
            "stages.2.blocks.3",
            "stages.2.blocks.0.token_mixer.reparam_conv",
        ] {
            assert!(p.is_wide(t), "{t}");
        }
        for t in [
            "stages.2.blocks.0.mlp.fc1",
            "stages.2.downsample.proj.1.reparam_conv",
            "stages.1.blocks.0",
            "stages.2.blocks.",
            "final_conv",
        ] {
            assert!(!p.is_wide(t), "{t}");
        }
        let m: Precision = "stages.1.mlp".parse().unwrap();
        assert_eq!(m.to_string(), "stages.1.mlp");
        assert!(
            m.is_wide("stages.1.blocks.1.mlp.conv.conv") && m.is_wide("stages.1.blocks.0.mlp.fc2")
        );
        assert!(!m.is_wide("stages.1.blocks.0.mlp.fc1.act") && !m.is_wide("stages.1.blocks.0"));
        assert!("stages.4.mlp".parse::<Precision>().is_err());
        let d: Precision = "stages.2.downsample".parse().unwrap();
        assert_eq!(d.to_string(), "stages.2.downsample");
        assert!(d.is_wide("stages.2.downsample.proj.0.reparam_conv"));
        assert!(!d.is_wide("stages.2.downsample.proj.1.reparam_conv.act"));
        assert!("stages.0.downsample".parse::<Precision>().is_err());
        assert!("stages.1.mlpx".parse::<Precision>().is_err());
        let s0: Precision = "stages.0".parse().unwrap();
        assert!(s0.is_wide("stem.2.reparam_conv.act") && !s0.is_wide("head.fc"));
        assert_eq!("none".parse::<Precision>().unwrap().to_string(), "none");
        assert!(Precision::default().is_wide("head.fc"));
        let err = "stages.4".parse::<Precision>().unwrap_err();
        assert!(err.contains("`stages.4`"), "{err}");
    }
}
