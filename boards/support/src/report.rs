//! Pure helpers for the report: the same code runs on every board and on the
//! host, so host and target results compare bit for bit.

/// FNV-1a 32 over the int8 logits (as bytes): the output checksum every board
/// prints and the host reference recomputes.
pub fn fnv1a32(logits: &[i8]) -> u32 {
    logits.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ b as u8 as u32).wrapping_mul(0x0100_0193)
    })
}

/// The `K` largest logits as `(class, logit)`, highest first; ties go to the
/// lower class index.
pub fn top_k<const K: usize>(logits: &[i8]) -> [(usize, i8); K] {
    let mut best = [(usize::MAX, i8::MIN); K];
    for (class, &q) in logits.iter().enumerate() {
        // Strictly greater: an equal logit seen later has a higher index.
        if let Some(pos) = best.iter().position(|&(c, b)| c == usize::MAX || q > b) {
            best.copy_within(pos..K - 1, pos + 1);
            best[pos] = (class, q);
        }
    }
    best
}

/// Writes `bytes` as lowercase hex.
pub fn write_hex(out: &mut impl core::fmt::Write, bytes: &[i8]) -> core::fmt::Result {
    for &b in bytes {
        write!(out, "{:02x}", b as u8)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_value_then_index() {
        let l = [3i8, 7, -1, 7, 5, 3];
        assert_eq!(top_k::<4>(&l), [(1, 7), (3, 7), (4, 5), (0, 3)]);
    }

    #[test]
    fn fnv_matches_reference_vector() {
        // FNV-1a 32 of "a" is 0xe40c292c.
        assert_eq!(fnv1a32(&[b'a' as i8]), 0xe40c_292c);
    }
}
