//! Where data lives: [`Span`]s in the weight blob, [`TensorRef`]s in the
//! arena, and the element type of an activation tensor ([`Elem`]).
#![forbid(unsafe_code)]

/// A byte range inside the model's weight blob (`Model::weights`).
///
/// `offset` is 4-byte aligned for i32 data. A zero `len` means "absent".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// Byte offset from the start of the weight blob.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Span {
    /// The empty span, used for optional data.
    pub const NONE: Span = Span { offset: 0, len: 0 };

    /// Whether the span is empty.
    pub const fn is_none(&self) -> bool {
        self.len == 0
    }
}

/// The element type of an activation tensor. Most tensors are int8; codegen
/// stores a tensor as int16 (little endian, 2-byte aligned) where the extra
/// precision pays for its bytes (the logits and the vector the head pools).
/// A kernel that only reads or writes int8 refuses a layer with an int16
/// operand (the executor checks, [`crate::Layer::elems_supported`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Elem {
    /// One signed byte per value.
    #[default]
    I8,
    /// Two bytes per value, little endian.
    I16,
}

impl Elem {
    /// Bytes per value.
    pub const fn bytes(self) -> usize {
        match self {
            Elem::I8 => 1,
            Elem::I16 => 2,
        }
    }

    /// The value range, `(min, max)`.
    pub const fn range(self) -> (i32, i32) {
        match self {
            Elem::I8 => (i8::MIN as i32, i8::MAX as i32),
            Elem::I16 => (i16::MIN as i32, i16::MAX as i32),
        }
    }

    /// Value `i` of a tensor of this type stored in `data`; 0 past the end
    /// (layers are validated, so never: it keeps a panic out).
    #[inline(always)]
    pub fn load(self, data: &[i8], i: usize) -> i32 {
        self.value(data, i).unwrap_or(0)
    }

    /// Value `i` of a tensor of this type stored in `data`, `None` past the
    /// end: what [`Elem::load`] and every [`Storage`] read.
    #[inline(always)]
    pub fn value(self, data: &[i8], i: usize) -> Option<i32> {
        match self {
            Elem::I8 => data.get(i).map(|&v| v as i32),
            Elem::I16 => {
                let at = i.wrapping_mul(2);
                match data.get(at..at.wrapping_add(2)) {
                    Some(&[lo, hi]) => Some(i16::from_le_bytes([lo as u8, hi as u8]) as i32),
                    _ => None,
                }
            }
        }
    }

    /// Stores `v`, saturated to the type's range, as value `i` of `data`
    /// (nothing past the end).
    #[inline(always)]
    pub fn store(self, data: &mut [i8], i: usize, v: i32) {
        let (lo, hi) = self.range();
        let v = v.clamp(lo, hi);
        match self {
            Elem::I8 => {
                if let Some(d) = data.get_mut(i) {
                    *d = v as i8;
                }
            }
            Elem::I16 => {
                if let Some(d) = data.get_mut(2 * i..2 * i + 2) {
                    let [a, b] = (v as i16).to_le_bytes();
                    d.copy_from_slice(&[a as i8, b as i8]);
                }
            }
        }
    }
}

/// How a reference kernel reads and writes the elements of a tensor:
/// [`Int8`] (a zero-sized type, so the int8 instantiation compiles to plain
/// byte loads) or an [`Elem`] known at run time (the layers with an int16
/// operand). Indices count elements; `None` past the end (never: the
/// executor validated every buffer; it keeps a panic out).
pub trait Storage: Copy {
    /// The element type.
    fn elem(self) -> Elem;

    /// Element `i` of `data`: [`Elem::value`] of the type.
    #[inline(always)]
    fn get(self, data: &[i8], i: usize) -> Option<i32> {
        self.elem().value(data, i)
    }

    /// Stores `v`, saturated to the type's range, as element `i` of `data`:
    /// [`Elem::store`] of the type.
    #[inline(always)]
    fn put(self, data: &mut [i8], i: usize, v: i32) {
        self.elem().store(data, i, v)
    }

    /// Bytes per element.
    #[inline(always)]
    fn bytes(self) -> usize {
        self.elem().bytes()
    }
}

/// [`Storage`] of an int8 tensor, fixed at compile time.
#[derive(Clone, Copy, Debug)]
pub struct Int8;

impl Storage for Int8 {
    #[inline(always)]
    fn elem(self) -> Elem {
        Elem::I8
    }
}

impl Storage for Elem {
    #[inline(always)]
    fn elem(self) -> Elem {
        self
    }
}

/// An NHWC activation tensor living in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TensorRef {
    /// Byte offset of element (0, 0, 0) in the arena (even for int16).
    pub offset: u32,
    /// Height.
    pub h: u16,
    /// Width.
    pub w: u16,
    /// Channels (innermost).
    pub c: u16,
    /// Element type.
    pub elem: Elem,
}

impl TensorRef {
    /// An int8 tensor.
    pub const fn i8(offset: u32, h: u16, w: u16, c: u16) -> Self {
        TensorRef {
            offset,
            h,
            w,
            c,
            elem: Elem::I8,
        }
    }

    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.h as usize * self.w as usize * self.c as usize
    }

    /// Number of bytes.
    pub const fn bytes(&self) -> usize {
        self.len() * self.elem.bytes()
    }

    /// Whether the tensor has no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One past the last byte in the arena.
    pub const fn end(&self) -> usize {
        self.offset as usize + self.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int16_values_round_trip_little_endian_and_saturate() {
        let mut data = [0i8; 6];
        for (i, v) in [(0, -300), (1, 40_000), (2, -40_000)] {
            Elem::I16.store(&mut data, i, v);
        }
        assert_eq!(Elem::I16.load(&data, 0), -300);
        assert_eq!(Elem::I16.load(&data, 1), i16::MAX as i32);
        assert_eq!(Elem::I16.load(&data, 2), i16::MIN as i32);
        assert_eq!(data[..2], [(-300i16).to_le_bytes()[0] as i8, -2]);
        assert_eq!(Elem::I16.load(&data, 3), 0); // past the end: no panic
        Elem::I8.store(&mut data, 0, 200);
        assert_eq!(Elem::I8.load(&data, 0), 127);
    }

    #[test]
    fn a_tensor_counts_elements_and_bytes() {
        let t = TensorRef {
            elem: Elem::I16,
            ..TensorRef::i8(10, 1, 1, 5)
        };
        assert_eq!((t.len(), t.bytes(), t.end()), (5, 10, 20));
    }
}
