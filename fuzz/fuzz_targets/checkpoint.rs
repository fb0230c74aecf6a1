//! The checkpoint loader on arbitrary bytes: any result, never a panic, and
//! never an allocation sized by what a header claims.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = codegen::checkpoint::parse(std::path::Path::new("fuzz.safetensors"), data);
});
