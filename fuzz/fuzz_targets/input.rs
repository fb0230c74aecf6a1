//! `codegen eval`'s read path on arbitrary bytes, as it ships
//! (`images::input_from_bytes`): once named `.npy` (the array reader and its
//! shape/resolution checks), once as an image (decode with the shipped
//! allocation limit, then timm's eval transform and normalization).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    for name in ["fuzz.npy", "fuzz.png"] {
        let _ = codegen::images::input_from_bytes(Path::new(name), data, 32);
    }
});
