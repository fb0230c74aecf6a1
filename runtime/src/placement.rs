//! Where a layer's output may sit relative to its input in the arena: the
//! ring sizes of the in-place forms and the least distances that let the
//! write-behind and write-ahead forms overlap their output with their input
//! (codegen's planner and the executor both ask these).

#[cfg(doc)]
use crate::schedule::ConvVariant;
use crate::schedule::{Conv, Stem};

impl Conv {
    /// Ring bytes of [`ConvVariant::InPlace`]: `kernel / 2 + 1` input rows of
    /// `w * c` bytes.
    pub const fn in_place_scratch_bytes(kernel: usize, w: usize, c: usize) -> usize {
        (kernel / 2 + 1).saturating_mul(w).saturating_mul(c)
    }

    /// The least `input.offset - output.offset` that lets
    /// [`ConvVariant::WriteBehind`] overlap its output with its input:
    /// `max over r of (r + 1) * out_row - first_row(r) * in_row`, where
    /// `first_row(r) = max(0, r * stride - pad)` is the first input row read by
    /// output row `r` (rows past the input end impose nothing).
    pub const fn write_behind_bytes(&self) -> usize {
        let in_row = self.input.w as usize * self.input.c as usize * self.input.elem.bytes();
        let out_row = self.output.w as usize * self.output.c as usize * self.output.elem.bytes();
        let (stride, pad) = (self.stride as usize, self.pad as usize);
        let mut lead = 0;
        let mut r = 0;
        while r < self.output.h as usize {
            let first = (r * stride).saturating_sub(pad);
            if first >= self.input.h as usize {
                break;
            }
            lead = lead_after_row(lead, r, out_row, first, in_row);
            r += 1;
        }
        lead
    }

    /// The least `output.offset - input.offset` that lets
    /// [`ConvVariant::WriteAhead`] overlap its output with its input:
    /// `max over r of end_row(r) * in_row - r * out_row`, where `end_row(r) =
    /// min(h, r * stride - pad + kernel)` ends the input rows output row `r`
    /// reads (rows wholly in the top padding impose nothing).
    pub const fn write_ahead_bytes(&self) -> usize {
        let in_row = self.input.w as usize * self.input.c as usize * self.input.elem.bytes();
        let out_row = self.output.w as usize * self.output.c as usize * self.output.elem.bytes();
        let (stride, pad, k) = (
            self.stride as usize,
            self.pad as usize,
            self.kernel as usize,
        );
        let mut lead = 0;
        let mut r = 0;
        while r < self.output.h as usize {
            let end = (r * stride + k).saturating_sub(pad);
            let end = if end < self.input.h as usize {
                end
            } else {
                self.input.h as usize
            };
            let need = end.saturating_mul(in_row);
            let free = r.saturating_mul(out_row);
            if need > free && need - free > lead {
                lead = need - free;
            }
            r += 1;
        }
        lead
    }
}

/// `lead` raised to what output row `r` needs when the next input row read
/// is `first`: rows `0..=r` of the output (`out_row` bytes each) must end
/// before input row `first` (`in_row` bytes each) starts.
const fn lead_after_row(
    lead: usize,
    r: usize,
    out_row: usize,
    first: usize,
    in_row: usize,
) -> usize {
    let need = (r + 1).saturating_mul(out_row);
    let free = first.saturating_mul(in_row);
    if need > free && need - free > lead {
        need - free
    } else {
        lead
    }
}

impl Stem {
    /// Ring bytes: `kernel` rows of `w * c` bytes of the intermediate.
    pub const fn ring_bytes(kernel: usize, w: usize, c: usize) -> usize {
        kernel.saturating_mul(w).saturating_mul(c)
    }

    /// Rows `[start, end)` of `first`'s output that output row `r` of
    /// `second` reads (clamped to the intermediate).
    pub const fn window(&self, r: usize) -> (usize, usize) {
        let s = &self.second;
        let top = r * s.stride as usize + s.kernel as usize;
        let start = (r * s.stride as usize).saturating_sub(s.pad as usize);
        let end = top.saturating_sub(s.pad as usize);
        let h = s.input.h as usize;
        (
            if start < h { start } else { h },
            if end < h { end } else { h },
        )
    }

    /// The least `first.input.offset - second.output.offset` that lets the
    /// output overlap the input: after output row `r` is written, the next
    /// input row read is the first input row of the next intermediate row to
    /// compute, and row `r` must end before it.
    pub const fn write_behind_bytes(&self) -> usize {
        let (a, b) = (&self.first, &self.second);
        let in_row = a.input.w as usize * a.input.c as usize;
        let out_row = b.output.w as usize * b.output.c as usize;
        let mut lead = 0;
        let mut done = 0; // intermediate rows computed so far
        let mut r = 0;
        while r + 1 < b.output.h as usize {
            let (_, end) = self.window(r);
            if end > done {
                done = end;
            }
            // Every row computed later is at least `next`.
            let (next_start, _) = self.window(r + 1);
            let next = if next_start > done { next_start } else { done };
            if next < b.input.h as usize {
                let first_in = (next * a.stride as usize).saturating_sub(a.pad as usize);
                lead = lead_after_row(lead, r, out_row, first_in, in_row);
            }
            r += 1;
        }
        lead
    }
}
