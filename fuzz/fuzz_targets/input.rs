//! The `.npy` reader and the image path of `codegen eval` on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = codegen::images::parse_npy(data);
    let mut reader = image::ImageReader::new(std::io::Cursor::new(data));
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(64 << 20);
    reader.limits(limits);
    if let Ok(img) = reader.with_guessed_format().map(|r| r.decode()) {
        if let Ok(img) = img {
            let _ = codegen::images::eval_transform(&img.to_rgb8(), 32);
        }
    }
});
