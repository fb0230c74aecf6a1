//! The FastViT family's architecture as data: one [`VARIANTS`] table of
//! widths, depths and MLP ratios (timm's `fastvit.py`: `fastvit_t8`,
//! `fastvit_t12`, ...), and the exact state-dict key sets of each checkpoint
//! layout derived from a row of it: timm's naming (`checkpoint_filter_fn`)
//! and Apple's ml-fastvit naming, checked against timm itself by
//! `host-tests/tests/fold.rs` (key order) and the fixture script's
//! `layout_checks` (`host-tests/fixtures/timm/README.md`).
//!
//! The synthetic generator, the loader's validation and the variant detector
//! all read these tables, so the model is described once.

/// One FastViT family member, as timm's `fastvit_*` constructor defines it.
/// Every other width follows: `final_conv` has `2 * embed_dims[3]` outputs
/// (`cls_ratio = 2`) and its squeeze-excite `1/16` of that.
#[derive(Debug, PartialEq, Eq)]
pub struct Variant {
    /// timm model name.
    pub name: &'static str,
    /// Stage widths.
    pub embed_dims: [usize; 4],
    /// Blocks per stage.
    pub depths: [usize; 4],
    /// ConvMlp hidden width = `mlp_ratio * dim` (the same in every stage).
    pub mlp_ratio: usize,
    /// Stages that mix tokens by attention (or a conditional positional
    /// encoding) instead of RepMixer; none of those ops are implemented.
    pub attention: &'static str,
}

impl Variant {
    /// final_conv output width (`cls_ratio = 2`).
    pub const fn final_dim(&self) -> usize {
        2 * self.embed_dims[3]
    }

    /// Squeeze-excite reduced width (timm `SqueezeExcite(rd_ratio=1/16, rd_divisor=1)`).
    pub const fn se_dim(&self) -> usize {
        self.final_dim() / 16
    }

    /// Whether the whole network is RepMixer + ConvMlp (what the pipeline runs).
    pub const fn supported(&self) -> bool {
        self.attention.is_empty()
    }

    /// Display name (`FastViT-T12`).
    pub fn title(&self) -> String {
        format!("FastViT-{}", self.name["fastvit_".len()..].to_uppercase())
    }

    /// The supported row whose widths, depths and MLP ratio a validated
    /// tensor set (timm names, train-time or reparameterized) has: read from
    /// the shapes of `stem.0`, `stages.0.blocks.0.mlp.fc1` and the block count
    /// of each stage. `None` if no supported row matches exactly.
    pub fn of_shapes(shape: impl Fn(&str) -> Option<Vec<usize>>) -> Option<&'static Variant> {
        let width = shape("stem.0.conv_kxk.0.conv.weight")
            .or_else(|| shape("stem.0.reparam_conv.weight"))?[0];
        let fc1 = shape("stages.0.blocks.0.mlp.fc1.weight")?;
        let depth = |s: usize| {
            (0..64)
                .take_while(|b| shape(&format!("stages.{s}.blocks.{b}.mlp.fc1.weight")).is_some())
                .count()
        };
        let depths = [depth(0), depth(1), depth(2), depth(3)];
        VARIANTS.iter().find(|v| {
            v.supported()
                && v.embed_dims[0] == width
                && v.depths == depths
                && v.mlp_ratio * fc1[1] == fc1[0]
        })
    }

    /// The table row named `name` (`fastvit_t12`; the `fastvit_` prefix may be left out).
    pub fn by_name(name: &str) -> Option<&'static Variant> {
        let short = name.strip_prefix("fastvit_").unwrap_or(name);
        VARIANTS
            .iter()
            .find(|v| v.name["fastvit_".len()..] == *short)
    }
}

/// The FastViT family (timm `fastvit.py`). Rows with `attention` are known so
/// that their checkpoints get a precise refusal.
#[rustfmt::skip]
pub const VARIANTS: &[Variant] = &[
    //  name             embed_dims           depths         ratio attention
    row("fastvit_t8",    [48, 96, 192, 384],  [2, 2, 4, 2],  3, ""),
    row("fastvit_t12",   [64, 128, 256, 512], [2, 2, 6, 2],  3, ""),
    row("fastvit_s12",   [64, 128, 256, 512], [2, 2, 6, 2],  4, ""),
    row("fastvit_sa12",  [64, 128, 256, 512], [2, 2, 6, 2],  4, ATTN_LAST),
    row("fastvit_sa24",  [64, 128, 256, 512], [4, 4, 12, 4], 4, ATTN_LAST),
    row("fastvit_sa36",  [64, 128, 256, 512], [6, 6, 18, 6], 4, ATTN_LAST),
    row("fastvit_ma36",  [76, 152, 304, 608], [6, 6, 18, 6], 4, ATTN_LAST),
    row("fastvit_mci0",  [64, 128, 256, 512], [2, 6, 10, 2], 3, ATTN_MCI),
    row("fastvit_mci1",  [64, 128, 256, 512], [4, 12, 20, 4], 3, ATTN_MCI),
    row("fastvit_mci2",  [80, 160, 320, 640], [4, 12, 24, 4], 3, ATTN_MCI),
];

/// One [`VARIANTS`] row, so the table reads as one line per model.
const fn row(
    name: &'static str,
    embed_dims: [usize; 4],
    depths: [usize; 4],
    mlp_ratio: usize,
    attention: &'static str,
) -> Variant {
    Variant {
        name,
        embed_dims,
        depths,
        mlp_ratio,
        attention,
    }
}

const ATTN_LAST: &str = "stage 3 uses attention token mixers (`Attention`: qkv + proj) and the conditional positional encoding `RepConditionalPosEnc` (pos_emb), which are not implemented";
const ATTN_MCI: &str = "stage 3 uses attention token mixers (`Attention`) and `RepConditionalPosEnc`, stages 2-3 squeeze-excite in their downsamples and the large-kernel convs an activation (MobileCLIP `mci`), none of which are implemented";

/// FastViT-T8, the default (built-in synthetic model, CLI defaults).
pub const T8: &Variant = &VARIANTS[0];

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

struct Keys(Vec<KeySpec>, &'static Variant);

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
        let f = self.1.final_dim();
        self.push("head.fc.weight".into(), &[classes, f], Init::FanIn(f));
        self.push("head.fc.bias".into(), &[classes], Init::Bias);
    }

    fn se(&mut self) {
        let (f, r) = (self.1.final_dim(), self.1.se_dim());
        self.conv_b("final_conv.se.fc1", r, f, 1);
        self.conv_b("final_conv.se.fc2", f, r, 1);
    }

    fn mlp(&mut self, p: &str, c: usize) {
        self.conv_bn(&format!("{p}.mlp.conv"), c, 1, 7);
        let h = self.1.mlp_ratio * c;
        self.conv_b(&format!("{p}.mlp.fc1"), h, c, 1);
        self.conv_b(&format!("{p}.mlp.fc2"), c, h, 1);
    }
}

/// The train-time entries (462 for T8; timm naming, timm registration order,
/// which is also the synthetic generator's draw order).
pub fn train_keys(v: &'static Variant, classes: usize) -> Vec<KeySpec> {
    let mut k = Keys(Vec::new(), v);
    let w = v.embed_dims[0];
    k.mobileone("stem.0", 3, w, 3, 1, false);
    k.mobileone("stem.1", w, w, 3, w, false);
    k.mobileone("stem.2", w, w, 1, 1, true);
    for (s, (&c, &depth)) in v.embed_dims.iter().zip(&v.depths).enumerate() {
        if s > 0 {
            let cin = v.embed_dims[s - 1];
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
    let last = v.embed_dims[3];
    k.mobileone("final_conv", last, v.final_dim(), 3, last, false);
    k.head(classes);
    k.0
}

/// The entries of timm's `reparameterize_model` / `inference_mode=True` (156 for T8).
pub fn reparam_keys(v: &'static Variant, classes: usize) -> Vec<KeySpec> {
    let mut k = Keys(Vec::new(), v);
    let w = v.embed_dims[0];
    k.conv_b("stem.0.reparam_conv", w, 3, 3);
    k.conv_b("stem.1.reparam_conv", w, 1, 3);
    k.conv_b("stem.2.reparam_conv", w, w, 1);
    for (s, (&c, &depth)) in v.embed_dims.iter().zip(&v.depths).enumerate() {
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
    k.conv_b("final_conv.reparam_conv", v.final_dim(), 1, 3);
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

/// The module renames timm -> Apple, `timm<TAB>apple` a line (`#` starts a
/// comment): one table, which `host-tests/scripts/make_fixtures.py` reads too
/// to name its goldens' keys the same way.
const TIMM_TO_APPLE_PARTS: &str = include_str!("timm_to_apple.tsv");

/// The `(timm, apple)` pairs of [`TIMM_TO_APPLE_PARTS`], in order.
fn timm_to_apple_parts() -> impl Iterator<Item = (&'static str, &'static str)> {
    TIMM_TO_APPLE_PARTS
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once('\t')
                .expect("timm_to_apple.tsv: a tab in every row")
        })
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
    for (t, a) in timm_to_apple_parts() {
        k = k.replace(t, a);
    }
    if let Some(stripped) = k.strip_suffix("layer_scale.gamma") {
        k = format!("{stripped}layer_scale");
    }
    k
}

/// The closest table row for an observed (stem width, blocks per stage, mlp
/// ratio, attention layers present).
pub fn closest_variant(
    width: usize,
    depths: [usize; 4],
    ratio: usize,
    attention: bool,
) -> &'static Variant {
    VARIANTS
        .iter()
        .min_by_key(|v| {
            let depth_err: usize = v
                .depths
                .iter()
                .zip(&depths)
                .map(|(x, y)| x.abs_diff(*y))
                .sum();
            (v.embed_dims[0] != width) as usize * 4
                + depth_err * 2
                + (v.mlp_ratio != ratio) as usize * 2
                + (v.supported() == attention) as usize * 3
        })
        .unwrap_or(T8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_counts_match_spec() {
        let train = train_keys(T8, 1000);
        assert_eq!(train.len(), 462);
        let params: usize = train
            .iter()
            .filter(|k| !matches!(k.init, Init::Counter | Init::BnMean | Init::BnVar))
            .map(|k| k.shape.iter().product::<usize>())
            .sum();
        assert_eq!(params, 4_026_232);
        assert_eq!(reparam_keys(T8, 1000).len(), 156);
        // timm's model cards: T12 7.55 M, S12 9.47 M parameters.
        for (name, want, keys) in [
            ("fastvit_t12", 7_553_704, 530),
            ("fastvit_s12", 9_473_576, 530),
        ] {
            let v = Variant::by_name(name).unwrap();
            let train = train_keys(v, 1000);
            let params: usize = train
                .iter()
                .filter(|k| !matches!(k.init, Init::Counter | Init::BnMean | Init::BnVar))
                .map(|k| k.shape.iter().product::<usize>())
                .sum();
            assert_eq!((params, train.len()), (want, keys), "{name}");
            assert_eq!(reparam_keys(v, 1000).len(), 182);
        }
    }

    #[test]
    fn apple_mapping_round_trips() {
        for k in VARIANTS[..3]
            .iter()
            .flat_map(|v| train_keys(v, 10).into_iter().chain(reparam_keys(v, 10)))
        {
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
        let name = |w, d, r, a| closest_variant(w, d, r, a).name;
        assert_eq!(name(64, [2, 2, 6, 2], 4, true), "fastvit_sa12");
        assert_eq!(name(48, [2, 2, 4, 2], 3, false), "fastvit_t8");
        assert_eq!(name(64, [2, 2, 6, 2], 3, false), "fastvit_t12");
        assert_eq!(name(64, [2, 2, 6, 2], 4, false), "fastvit_s12");
        assert_eq!(name(76, [6, 6, 18, 6], 4, true), "fastvit_ma36");
        assert_eq!(Variant::by_name("t12").map(|v| v.name), Some("fastvit_t12"));
        assert_eq!(
            Variant::by_name("fastvit_s12").map(|v| v.mlp_ratio),
            Some(4)
        );
        assert!(Variant::by_name("t13").is_none());
    }
}
