//! Pure helpers for the report: the same code runs on every board and on the
//! host, so host and target results compare bit for bit.

/// FNV-1a 32 over the logits' little-endian bytes (two per int16 logit):
/// the output checksum every board prints and the host reference recomputes.
pub fn fnv1a32(logits: &[i16]) -> u32 {
    logits
        .iter()
        .flat_map(|q| q.to_le_bytes())
        .fold(0x811c_9dc5u32, |h, b| {
            (h ^ b as u32).wrapping_mul(0x0100_0193)
        })
}

/// The `K` largest logits as `(class, logit)`, highest first; ties go to the
/// lower class index.
pub fn top_k<const K: usize>(logits: &[i16]) -> [(usize, i16); K] {
    let mut best = [(usize::MAX, i16::MIN); K];
    for (class, &q) in logits.iter().enumerate() {
        // Strictly greater: an equal logit seen later has a higher index.
        if let Some(pos) = best.iter().position(|&(c, b)| c == usize::MAX || q > b) {
            best.copy_within(pos..K - 1, pos + 1);
            best[pos] = (class, q);
        }
    }
    best
}

/// Writes the logits as lowercase hex, four digits each (two's complement).
pub fn write_hex(out: &mut impl core::fmt::Write, logits: &[i16]) -> core::fmt::Result {
    for &q in logits {
        write!(out, "{:04x}", q as u16)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_value_then_index() {
        let l = [3i16, 7, -1, 7, 5, 3];
        assert_eq!(top_k::<4>(&l), [(1, 7), (3, 7), (4, 5), (0, 3)]);
    }

    #[test]
    fn fnv_matches_reference_vector() {
        // FNV-1a 32 of "ab" is 0x4d2505ca: the logit 0x6261 as "a", "b".
        assert_eq!(fnv1a32(&[0x6261]), 0x4d25_05ca);
    }
}
