//! First-difference messages: where two outputs first disagree, both values
//! and how many elements differ, so a failure names the element to look at.

use core::fmt::{self, Debug, Display};

/// How two slices differ (see [`first_difference`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mismatch<T> {
    Length {
        expected: usize,
        got: usize,
    },
    Value {
        index: usize,
        expected: T,
        got: T,
        /// Differing elements in all.
        count: usize,
        len: usize,
        /// How the index is also shown.
        at: At,
    },
}

/// The element's position besides its index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    Index,
    /// `(pixel, channel)` with this many channels per pixel.
    Pixel {
        channels: usize,
    },
    /// `(y, x, c)` of an NHWC tensor this wide and deep.
    Nhwc {
        w: usize,
        c: usize,
    },
}

/// The first element where `got` differs from `expected`, or their lengths.
pub fn first_difference<T: PartialEq + Copy>(expected: &[T], got: &[T]) -> Option<Mismatch<T>> {
    if expected.len() != got.len() {
        return Some(Mismatch::Length {
            expected: expected.len(),
            got: got.len(),
        });
    }
    let index = expected.iter().zip(got).position(|(e, g)| e != g)?;
    Some(Mismatch::Value {
        index,
        expected: expected[index],
        got: got[index],
        count: expected.iter().zip(got).filter(|(e, g)| e != g).count(),
        len: expected.len(),
        at: At::Index,
    })
}

impl<T> Mismatch<T> {
    /// Also shows the index as `(pixel, channel)`.
    pub fn in_pixels(self, channels: usize) -> Self {
        self.at(At::Pixel {
            channels: channels.max(1),
        })
    }

    /// Also shows the index as `(y, x, c)` of an NHWC tensor.
    pub fn in_nhwc(self, w: usize, c: usize) -> Self {
        self.at(At::Nhwc {
            w: w.max(1),
            c: c.max(1),
        })
    }

    fn at(self, new: At) -> Self {
        match self {
            Mismatch::Value {
                index,
                expected,
                got,
                count,
                len,
                ..
            } => Mismatch::Value {
                index,
                expected,
                got,
                count,
                len,
                at: new,
            },
            length => length,
        }
    }
}

impl<T: Debug> Display for Mismatch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Length { expected, got } => {
                write!(f, "length differs: expected {expected} elements, got {got}")
            }
            Mismatch::Value {
                index: i,
                expected,
                got,
                count,
                len,
                at,
            } => {
                write!(f, "first difference at index {i}")?;
                match *at {
                    At::Index => {}
                    At::Pixel { channels } => {
                        write!(f, " (pixel {} channel {})", i / channels, i % channels)?
                    }
                    At::Nhwc { w, c } => {
                        write!(f, " = (y, x, c) ({}, {}, {})", i / c / w, i / c % w, i % c)?
                    }
                }
                write!(
                    f,
                    ": expected {expected:?}, got {got:?} ({count} of {len} elements differ)"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::first_difference;
    use std::string::ToString;

    #[test]
    fn messages_name_the_first_difference() {
        assert_eq!(first_difference(&[1i8, 2, 3], &[1, 2, 3]), None);
        let m = first_difference(&[1i8, 2, 3, 4], &[1, 5, 3, 6]).unwrap();
        assert_eq!(
            m.to_string(),
            "first difference at index 1: expected 2, got 5 (2 of 4 elements differ)"
        );
        assert_eq!(
            m.in_pixels(2).to_string(),
            "first difference at index 1 (pixel 0 channel 1): expected 2, got 5 (2 of 4 elements differ)"
        );
        assert_eq!(
            m.in_nhwc(2, 1).to_string(),
            "first difference at index 1 = (y, x, c) (0, 1, 0): expected 2, got 5 (2 of 4 elements differ)"
        );
        assert_eq!(
            first_difference(&[1i8], &[]).unwrap().to_string(),
            "length differs: expected 1 elements, got 0"
        );
    }
}
