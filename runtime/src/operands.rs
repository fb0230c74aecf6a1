//! Operands every kernel reads from the weight blob, shared by the reference
//! kernels (`ops`) and the tiers (`kernels`).

/// Little-endian i32 values packed in a byte slice (biases).
#[derive(Clone, Copy)]
pub struct I32s<'a>(pub &'a [u8]);

impl I32s<'_> {
    /// Element `i`; 0 past the end. Layers are validated to hold every
    /// element their kernels read, so the fallback never happens; it keeps
    /// the read free of a bounds-check panic (the board no-panic check).
    #[inline(always)]
    pub fn get(&self, i: usize) -> i32 {
        packed(self.0, i).map_or(0, i32::from_le_bytes)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }
}

/// Requantization shifts, one signed byte per channel (they lie in
/// `-31..=30`; a byte instead of a word saves 3 bytes of flash a channel).
#[derive(Clone, Copy)]
pub struct Shifts<'a>(pub &'a [i8]);

impl Shifts<'_> {
    /// Element `i`; 0 past the end (never read: see [`I32s::get`]).
    #[inline(always)]
    pub fn get(&self, i: usize) -> i32 {
        self.0.get(i).map_or(0, |&s| s as i32)
    }
}

/// Requantization multipliers, the top 16 bits of each normalized Q31
/// multiplier (little-endian i16; codegen rounds them so the low half is
/// zero): 2 bytes of flash a channel instead of 4.
#[derive(Clone, Copy)]
pub struct Multipliers<'a>(pub &'a [u8]);

impl Multipliers<'_> {
    /// The Q31 multiplier of element `i` (`m16 << 16`, what
    /// [`crate::quant::requantize`] takes); 0 past the end (never read: see
    /// [`I32s::get`]).
    #[inline(always)]
    pub fn get(&self, i: usize) -> i32 {
        packed(self.0, i).map_or(0, |b| widen(i16::from_le_bytes(b)))
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.len() < 2
    }
}

/// The bytes of element `i` of `N`-byte values packed in `bytes` (what
/// [`I32s`] and [`Multipliers`] read); `None` past the end, computed with
/// wrapping arithmetic so that no index overflows into a panic path.
#[inline(always)]
fn packed<const N: usize>(bytes: &[u8], i: usize) -> Option<[u8; N]> {
    let at = i.wrapping_mul(N);
    bytes.get(at..at.wrapping_add(N))?.try_into().ok()
}

/// A stored 16-bit multiplier as the Q31 multiplier it stands for.
#[inline(always)]
pub const fn widen(m16: i16) -> i32 {
    (m16 as i32) << 16
}

/// Per-channel requantization tables resolved from the weight blob.
#[derive(Clone, Copy)]
pub struct RequantView<'a> {
    /// Multipliers.
    pub multiplier: Multipliers<'a>,
    /// Shifts.
    pub shift: Shifts<'a>,
}
