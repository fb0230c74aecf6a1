//! FastViT-T8's architecture as data: widths, depths, and the exact state-dict
//! key sets of each checkpoint layout: timm's `fastvit.py` (`fastvit_t8`,
//! `checkpoint_filter_fn`) and Apple's ml-fastvit naming, checked against
//! timm itself by `host-tests/tests/fold.rs` (key order) and the fixture
//! script's `layout_checks` (`host-tests/fixtures/timm/README.md`).
//!
//! The synthetic generator, the loader's validation and the variant detector
//! all read these tables, so the model is described once.

/// Stage widths.
pub const EMBED_DIMS: [usize; 4] = [48, 96, 192, 384];
/// Blocks per stage.
pub const DEPTHS: [usize; 4] = [2, 2, 4, 2];
/// ConvMlp hidden width = `MLP_RATIO * dim`.
pub const MLP_RATIO: usize = 3;
/// final_conv output width (`cls_ratio = 2`).
pub const FINAL_DIM: usize = 768;
/// Squeeze-excite reduced width (`768 / 16`).
pub const SE_DIM: usize = 48;
/// BatchNorm epsilon of every BN in the model.
pub const BN_EPS: f32 = 1e-5;
/// ImageNet mean (RGB) used by the pretrained config.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet std (RGB).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Pretrained input size.
pub const DEFAULT_RESOLUTION: usize = 256;
/// Classes of the ImageNet-1k head.
pub const DEFAULT_CLASSES: usize = 1000;

/// How the synthetic generator fills a tensor (see [`crate::synth`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Conv / linear weight: `U(-sqrt(3/fan_in), +sqrt(3/fan_in))` (unit gain).
    FanIn(usize),
    /// Conv / linear bias: `U(-0.1, 0.1)`.
    Bias,
    /// BN gamma: `U(0.25, 1.75)`.
    BnWeight,
    /// BN beta: `U(-0.2, 0.2)`.
    BnBias,
    /// BN running mean: `U(-0.2, 0.2)`.
    BnMean,
    /// BN running variance: `U(0.5, 2.0)`.
    BnVar,
    /// LayerScale gamma: `U(0.1, 0.5)` (wider ranges make the 20 residual
    /// branches blow logits up to ~2000).
    LayerScale,
    /// `num_batches_tracked`: int64 scalar, no draw.
    Counter,
}

impl Init {
    /// The uniform range drawn from, or `None` for the int64 counter.
    pub fn range(&self) -> Option<(f64, f64)> {
        Some(match *self {
            Init::FanIn(n) => {
                let b = (3.0 / n as f64).sqrt();
                (-b, b)
            }
            Init::Bias => (-0.1, 0.1),
            Init::BnWeight => (0.25, 1.75),
            Init::BnBias | Init::BnMean => (-0.2, 0.2),
            Init::BnVar => (0.5, 2.0),
            Init::LayerScale => (0.1, 0.5),
            Init::Counter => return None,
        })
    }
}

/// One expected state-dict entry.
#[derive(Clone, Debug, PartialEq)]
pub struct KeySpec {
    /// timm key.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Synthetic fill.
    pub init: Init,
}

struct Keys(Vec<KeySpec>);

impl Keys {
    fn push(&mut self, name: String, shape: &[usize], init: Init) {
        self.0.push(KeySpec {
            name,
            shape: shape.to_vec(),
            init,
        });
    }

    fn bn(&mut self, p: &str, n: usize) {
        self.push(format!("{p}.weight"), &[n], Init::BnWeight);
        self.push(format!("{p}.bias"), &[n], Init::BnBias);
        self.push(format!("{p}.running_mean"), &[n], Init::BnMean);
        self.push(format!("{p}.running_var"), &[n], Init::BnVar);
        self.push(format!("{p}.num_batches_tracked"), &[], Init::Counter);
    }

    /// `ConvNormAct`: `{p}.conv.weight` + `BN({p}.bn)`.
    fn conv_bn(&mut self, p: &str, cout: usize, cin_g: usize, k: usize) {
        self.push(
            format!("{p}.conv.weight"),
            &[cout, cin_g, k, k],
            Init::FanIn(cin_g * k * k),
        );
        self.bn(&format!("{p}.bn"), cout);
    }

    /// A conv with bias (`{p}.weight`, `{p}.bias`).
    fn conv_b(&mut self, p: &str, cout: usize, cin_g: usize, k: usize) {
        self.push(
            format!("{p}.weight"),
            &[cout, cin_g, k, k],
            Init::FanIn(cin_g * k * k),
        );
        self.push(format!("{p}.bias"), &[cout], Init::Bias);
    }

    /// Train-time MobileOneBlock in registration order: identity, conv_kxk, conv_scale.
    fn mobileone(
        &mut self,
        p: &str,
        cin: usize,
        cout: usize,
        k: usize,
        groups: usize,
        identity: bool,
    ) {
        if identity {
            self.bn(&format!("{p}.identity"), cin);
        }
        self.conv_bn(&format!("{p}.conv_kxk.0"), cout, cin / groups, k);
        if k > 1 {
            self.conv_bn(&format!("{p}.conv_scale"), cout, cin / groups, 1);
        }
    }

    fn layer_scale(&mut self, p: &str, c: usize) {
        self.push(format!("{p}.gamma"), &[c, 1, 1], Init::LayerScale);
    }

    fn head(&mut self, classes: usize) {
        self.push(
            "head.fc.weight".into(),
            &[classes, FINAL_DIM],
            Init::FanIn(FINAL_DIM),
        );
        self.push("head.fc.bias".into(), &[classes], Init::Bias);
    }

    fn se(&mut self) {
        self.conv_b("final_conv.se.fc1", SE_DIM, FINAL_DIM, 1);
        self.conv_b("final_conv.se.fc2", FINAL_DIM, SE_DIM, 1);
    }

    fn mlp(&mut self, p: &str, c: usize) {
        self.conv_bn(&format!("{p}.mlp.conv"), c, 1, 7);
        self.conv_b(&format!("{p}.mlp.fc1"), MLP_RATIO * c, c, 1);
        self.conv_b(&format!("{p}.mlp.fc2"), c, MLP_RATIO * c, 1);
    }
}

/// The 462 train-time entries (timm naming, timm registration order, which is
/// also the synthetic generator's draw order).
pub fn train_keys(classes: usize) -> Vec<KeySpec> {
    let mut k = Keys(Vec::new());
    k.mobileone("stem.0", 3, 48, 3, 1, false);
    k.mobileone("stem.1", 48, 48, 3, 48, false);
    k.mobileone("stem.2", 48, 48, 1, 1, true);
    for (s, (&c, &depth)) in EMBED_DIMS.iter().zip(&DEPTHS).enumerate() {
        if s > 0 {
            let cin = EMBED_DIMS[s - 1];
            let p = format!("stages.{s}.downsample.proj");
            k.conv_bn(&format!("{p}.0.large_conv"), c, 1, 7);
            k.conv_bn(&format!("{p}.0.small_conv"), c, 1, 3);
            debug_assert_eq!(c, 2 * cin);
            k.mobileone(&format!("{p}.1"), c, c, 1, 1, true);
        }
        for b in 0..depth {
            let p = format!("stages.{s}.blocks.{b}");
            k.bn(&format!("{p}.token_mixer.norm.identity"), c);
            k.mobileone(&format!("{p}.token_mixer.mixer"), c, c, 3, c, true);
            k.layer_scale(&format!("{p}.token_mixer.layer_scale"), c);
            k.mlp(&p, c);
            k.layer_scale(&format!("{p}.layer_scale"), c);
        }
    }
    k.se();
    k.mobileone("final_conv", 384, FINAL_DIM, 3, 384, false);
    k.head(classes);
    k.0
}

/// The 156 entries of timm's `reparameterize_model` / `inference_mode=True`.
pub fn reparam_keys(classes: usize) -> Vec<KeySpec> {
    let mut k = Keys(Vec::new());
    k.conv_b("stem.0.reparam_conv", 48, 3, 3);
    k.conv_b("stem.1.reparam_conv", 48, 1, 3);
    k.conv_b("stem.2.reparam_conv", 48, 48, 1);
    for (s, (&c, &depth)) in EMBED_DIMS.iter().zip(&DEPTHS).enumerate() {
        if s > 0 {
            let p = format!("stages.{s}.downsample.proj");
            k.conv_b(&format!("{p}.0.reparam_conv"), c, 1, 7);
            k.conv_b(&format!("{p}.1.reparam_conv"), c, c, 1);
        }
        for b in 0..depth {
            let p = format!("stages.{s}.blocks.{b}");
            k.conv_b(&format!("{p}.token_mixer.reparam_conv"), c, 1, 3);
            k.mlp(&p, c);
            k.layer_scale(&format!("{p}.layer_scale"), c);
        }
    }
    k.se();
    k.conv_b("final_conv.reparam_conv", FINAL_DIM, 1, 3);
    k.head(classes);
    k.0
}

/// Apple ml-fastvit key -> timm key (timm's `checkpoint_filter_fn`, plus the
/// `lkb_reparam` rename it lacks). `None` if the key is not Apple-style.
pub fn apple_to_timm(key: &str) -> Option<String> {
    let mut k = if let Some(rest) = key.strip_prefix("patch_embed.") {
        format!("stem.{rest}")
    } else if let Some(rest) = key.strip_prefix("network.") {
        let (idx, rest) = rest.split_once('.')?;
        let idx: usize = idx.parse().ok()?;
        if idx.is_multiple_of(2) {
            format!("stages.{}.blocks.{rest}", idx / 2)
        } else {
            format!("stages.{}.downsample.{rest}", idx.div_ceil(2))
        }
    } else if let Some(rest) = key.strip_prefix("conv_exp.") {
        format!("final_conv.{rest}")
    } else if key == "head.weight" || key == "head.bias" {
        format!("head.fc.{}", &key[5..])
    } else {
        return None;
    };
    for (a, t) in [
        (".rbr_conv.", ".conv_kxk."),
        (".rbr_scale.", ".conv_scale."),
        (".rbr_skip.", ".identity."),
        (".lkb_origin.", ".large_conv."),
        (".lkb_reparam.", ".reparam_conv."),
        (".convffn.", ".mlp."),
        (".se.reduce.", ".se.fc1."),
        (".se.expand.", ".se.fc2."),
    ] {
        k = k.replace(a, t);
    }
    if k.ends_with("layer_scale") {
        k.push_str(".gamma");
    }
    Some(k)
}

/// timm key -> Apple ml-fastvit key (the inverse of [`apple_to_timm`]);
/// `reparam_conv` of a downsample's `proj.0` becomes `lkb_reparam`.
pub fn timm_to_apple(key: &str) -> String {
    let mut k = key.to_string();
    if let Some(rest) = k.strip_prefix("stem.") {
        k = format!("patch_embed.{rest}");
    } else if let Some(rest) = k.strip_prefix("stages.") {
        let (s, rest) = rest.split_once('.').expect("stage index");
        let s: usize = s.parse().expect("stage index");
        if let Some(rest) = rest.strip_prefix("blocks.") {
            k = format!("network.{}.{rest}", 2 * s);
        } else if let Some(rest) = rest.strip_prefix("downsample.") {
            k = format!("network.{}.{rest}", 2 * s - 1);
        }
    } else if let Some(rest) = k.strip_prefix("final_conv.") {
        k = format!("conv_exp.{rest}");
    } else if let Some(rest) = k.strip_prefix("head.fc.") {
        k = format!("head.{rest}");
    }
    for (t, a) in [
        (".conv_kxk.", ".rbr_conv."),
        (".conv_scale.", ".rbr_scale."),
        (".identity.", ".rbr_skip."),
        (".large_conv.", ".lkb_origin."),
        (".proj.0.reparam_conv.", ".proj.0.lkb_reparam."),
        (".mlp.", ".convffn."),
        (".se.fc1.", ".se.reduce."),
        (".se.fc2.", ".se.expand."),
    ] {
        k = k.replace(t, a);
    }
    if let Some(stripped) = k.strip_suffix("layer_scale.gamma") {
        k = format!("{stripped}layer_scale");
    }
    k
}

/// Known FastViT family members: (name, stem width, blocks per stage, mlp ratio, attention in stage 3).
pub const VARIANTS: &[(&str, usize, [usize; 4], usize, bool)] = &[
    ("fastvit_t8", 48, [2, 2, 4, 2], 3, false),
    ("fastvit_t12", 64, [2, 2, 6, 2], 3, false),
    ("fastvit_s12", 64, [2, 2, 6, 2], 4, false),
    ("fastvit_sa12", 64, [2, 2, 6, 2], 4, true),
    ("fastvit_sa24", 64, [4, 4, 12, 4], 4, true),
    ("fastvit_sa36", 64, [6, 6, 18, 6], 4, true),
    ("fastvit_ma36", 76, [6, 6, 18, 6], 4, true),
    ("fastvit_mci0", 64, [2, 6, 10, 2], 3, true),
    ("fastvit_mci1", 64, [4, 12, 20, 4], 3, true),
    ("fastvit_mci2", 80, [4, 12, 24, 4], 3, true),
];

/// The closest known variant for an observed (stem width, depths, mlp ratio, attention).
pub fn closest_variant(
    width: usize,
    depths: [usize; 4],
    ratio: usize,
    attention: bool,
) -> &'static str {
    VARIANTS
        .iter()
        .min_by_key(|(_, w, d, r, a)| {
            let depth_err: usize = d.iter().zip(&depths).map(|(x, y)| x.abs_diff(*y)).sum();
            (*w != width) as usize * 4
                + depth_err * 2
                + (*r != ratio) as usize * 2
                + (*a != attention) as usize * 3
        })
        .map(|v| v.0)
        .unwrap_or("an unknown FastViT variant")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_counts_match_spec() {
        let train = train_keys(1000);
        assert_eq!(train.len(), 462);
        let params: usize = train
            .iter()
            .filter(|k| !matches!(k.init, Init::Counter | Init::BnMean | Init::BnVar))
            .map(|k| k.shape.iter().product::<usize>())
            .sum();
        assert_eq!(params, 4_026_232);
        assert_eq!(reparam_keys(1000).len(), 156);
    }

    #[test]
    fn apple_mapping_round_trips() {
        for k in train_keys(10).iter().chain(&reparam_keys(10)) {
            let a = timm_to_apple(&k.name);
            assert_ne!(a, k.name);
            assert_eq!(apple_to_timm(&a).as_deref(), Some(k.name.as_str()), "{a}");
        }
        assert_eq!(
            timm_to_apple("stages.3.downsample.proj.0.reparam_conv.weight"),
            "network.5.proj.0.lkb_reparam.weight"
        );
        assert_eq!(
            timm_to_apple("stages.2.blocks.3.layer_scale.gamma"),
            "network.4.3.layer_scale"
        );
    }

    #[test]
    fn variant_detection() {
        assert_eq!(closest_variant(64, [2, 2, 6, 2], 4, true), "fastvit_sa12");
        assert_eq!(closest_variant(48, [2, 2, 4, 2], 3, false), "fastvit_t8");
        assert_eq!(closest_variant(76, [6, 6, 18, 6], 4, true), "fastvit_ma36");
    }
}
