//! The report over defmt: [`Console`] collects `core::fmt` output and sends
//! each complete line as one `defmt::println!("{=str}")`, so a real board's
//! output (decoded by `probe-rs run`) reads like an emulated board's.

use core::fmt;

/// Line-buffered `core::fmt::Write` onto defmt.
pub struct Console {
    buf: [u8; 2112],
    len: usize,
}

impl Console {
    /// An empty console.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Console {
            buf: [0; 2112],
            len: 0,
        }
    }

    /// Sends what is buffered as one line.
    pub fn flush(&mut self) {
        if self.len > 0 {
            let line = core::str::from_utf8(&self.buf[..self.len]).unwrap_or("<non-UTF-8>");
            defmt::println!("{=str}", line);
            self.len = 0;
        }
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if b == b'\n' {
                self.flush();
                continue;
            }
            // Room for the longest line (the logits as hex); anything
            // longer goes out in pieces.
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}
