//! Two convs streamed by rows through a ring: see [`crate::Stem`].

use super::conv::{conv_element, ConvArgs};
use crate::schedule::Stem;

/// Reference kernel. `region` holds `first.input` at `input_at` and
/// `second.output` at `output_at` (they may overlap, see
/// [`Stem::write_behind_bytes`]); `ring` holds [`Stem::ring_bytes`] bytes.
///
/// For each output row `r` of `second`: compute, in increasing order, the
/// rows of `first` in `r`'s window that are not computed yet into ring slot
/// `row % k`; then compute row `r` of `second` from the ring and write it.
pub fn stem_reference(
    p: &Stem,
    first: &ConvArgs<'_>,
    second: &ConvArgs<'_>,
    region: &mut [i8],
    input_at: usize,
    output_at: usize,
    ring: &mut [i8],
) {
    let (a, b) = (&p.first, &p.second);
    let (iw, cin) = (a.input.w as usize, a.input.c as usize);
    let (mw, mc) = (a.output.w as usize, a.output.c as usize);
    let (oh, ow, oc) = (
        b.output.h as usize,
        b.output.w as usize,
        b.output.c as usize,
    );
    let mid_row = mw * mc;
    let slots = b.kernel as usize;
    if slots == 0 {
        return; // validated (kernel > 0); keeps `% 0` panics out
    }
    let mut done = 0;
    for r in 0..oh {
        let (start, end) = p.window(r);
        for j in start.max(done)..end {
            let slot = (j % slots) * mid_row;
            for x in 0..mw {
                for o in 0..mc {
                    // The executor sized `region` and `ring`: `get` keeps
                    // bounds-check panics out of the code.
                    let v = conv_element(a, first, j, x, o, |iy, ix, c| {
                        let at = input_at + (iy * iw + ix) * cin + c;
                        region.get(at).copied()
                    });
                    if let Some(d) = ring.get_mut(slot + x * mc + o) {
                        *d = v;
                    }
                }
            }
        }
        done = done.max(end);
        for x in 0..ow {
            for o in 0..oc {
                let v = conv_element(b, second, r, x, o, |iy, ix, c| {
                    let at = (iy % slots) * mid_row + ix * mc + c;
                    ring.get(at).copied()
                });
                if let Some(d) = region.get_mut(output_at + (r * ow + x) * oc + o) {
                    *d = v;
                }
            }
        }
    }
}
