//! Elementwise 256-entry table lookup (GELU, sigmoid).

/// `data[i] = table[data[i] + 128]`, in place.
pub fn lut_in_place(table: &[i8], data: &mut [i8]) {
    for v in data.iter_mut() {
        *v = crate::quant::lut(table, *v);
    }
}

/// `output[i] = table[input[i] + 128]`.
pub fn lut_reference(table: &[i8], input: &[i8], output: &mut [i8]) {
    for (o, &i) in output.iter_mut().zip(input) {
        *o = crate::quant::lut(table, i);
    }
}
