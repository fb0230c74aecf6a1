//! What every board firmware shares.
//!
//! - [`bench`]: the one benchmark sequence (run the model once on the embedded
//!   image, marking each layer) and the line-oriented report every board
//!   prints, which `boards/tools` parses;
//! - [`fastvit_perf_mark`]: the per-layer marker the QEMU instruction-counting
//!   plugin (`boards/tools/plugin`) watches, and that real boards replace with
//!   a cycle-counter read;
//! - [`stack`]: stack high-water mark by painting (the stack is painted at
//!   reset, between the linker symbols `_stack_end` and `_stack_start`);
//! - per platform feature, [`semihosting`] console and exit, and the panic and
//!   fault handlers that make QEMU exit with a failure status instead of
//!   hanging (`cortex-m`: HardFault and DefaultHandler; `virt`: the AArch64
//!   `_start` and exception vectors);
//! - with feature `no-panic` (and `cortex-m` or `virt`), [`no_panic`]: a
//!   panic handler that fails the link if any panic is reachable, and the
//!   formatting-free run that proves the inference path has none;
//! - [`conformance`]: the fast kernels against the reference contract on
//!   random shapes, run on the emulated cores (`kernels` firmware bins);
//! - for real boards (feature `defmt`), [`defmt_console`]: the same report as
//!   defmt lines over RTT.
#![no_std]
#![deny(missing_docs)]

#[cfg(all(feature = "cortex-m", feature = "virt"))]
compile_error!("features `cortex-m` and `virt` select different platforms: enable one");
#[cfg(all(feature = "no-panic", not(any(feature = "cortex-m", feature = "virt"))))]
compile_error!(
    "feature `no-panic` replaces a platform's panic handler: enable `cortex-m` or `virt` too"
);

pub mod bench;
pub mod conformance;
pub mod report;
#[cfg(any(feature = "cortex-m", feature = "virt"))]
pub mod semihosting;
pub mod stack;

#[cfg(feature = "defmt")]
pub mod defmt_console;
#[cfg(feature = "no-panic")]
pub mod no_panic;

#[cfg(feature = "cortex-m")]
mod cortex_m;
#[cfg(feature = "virt")]
mod virt;

pub use bench::Board;

/// The statics every board binary shares: the test image staged beside the
/// model by `boards/tools`, and the arena in `.fastvit_arena` (the board's
/// linker script places it). Used by [`emulated_board!`],
/// [`no_panic_board!`] and the i.MX RT1170 binary.
#[doc(hidden)]
#[macro_export]
macro_rules! board_statics {
    () => {
        /// The test image (u8 RGB, HWC), staged beside the model by `boards/tools`.
        static IMAGE: [u8; fastvit_model::INPUT_BYTES] =
            *include_bytes!(env!("FASTVIT_BOARD_IMAGE"));

        /// The activation arena, placed by the board's linker script.
        #[link_section = ".fastvit_arena"]
        static mut ARENA: $crate::Arena<{ fastvit_model::ARENA_BYTES }> = $crate::Arena::new();
    };
}

/// The board binary's entry point, per platform: `main` calls the `run()`
/// the board macros define (Cortex-M: cortex-m-rt's `#[entry]`; `virt`:
/// `_start` in this crate enables FP/NEON and calls `main`).
#[cfg(feature = "cortex-m")]
#[doc(hidden)]
#[macro_export]
macro_rules! board_entry {
    () => {
        #[cortex_m_rt::entry]
        fn main() -> ! {
            run()
        }
    };
}

/// See the Cortex-M version.
#[cfg(feature = "virt")]
#[doc(hidden)]
#[macro_export]
macro_rules! board_entry {
    () => {
        #[no_mangle]
        extern "C" fn main() -> ! {
            run()
        }
    };
}

/// The whole of an emulated board's benchmark binary: the board's name,
/// [`board_statics!`], `fn run() -> !`, which runs the model once and exits
/// QEMU with [`semihosting::run_and_exit`]'s report, and the platform's
/// entry point calling it. The binary needs `fastvit_model` as a dependency.
#[cfg(any(feature = "cortex-m", feature = "virt"))]
#[macro_export]
macro_rules! emulated_board {
    ($name:literal, $core:literal) => {
        const BOARD: $crate::Board = $crate::Board::new($name, $core);

        $crate::board_statics!();

        /// Runs the model once on `IMAGE` and exits with the report.
        fn run() -> ! {
            // SAFETY: the only reference to ARENA, taken once.
            let arena = unsafe { $crate::Arena::take(core::ptr::addr_of_mut!(ARENA)) };
            let mut logits = [0i16; fastvit_model::CLASSES];
            $crate::semihosting::run_and_exit(
                &BOARD,
                &fastvit_model::MODEL,
                fastvit_model::weights_intact(),
                &IMAGE,
                arena,
                &mut logits,
            )
        }

        $crate::board_entry!();
    };
}

/// The `no-panic` binary of a board: [`board_statics!`], the entry point
/// and `fn run() -> !`, only what an inference firmware runs (the weight
/// check and `classify`) under [`no_panic::run_and_exit`]. With the binary's
/// feature `deliberate-panic`, an index the compiler cannot prove in range
/// is added, and the link must fail.
#[cfg(feature = "no-panic")]
#[macro_export]
macro_rules! no_panic_board {
    () => {
        $crate::board_statics!();

        /// Weight check and `classify` on the static arena and `IMAGE`.
        fn run() -> ! {
            // SAFETY: the only reference to ARENA, taken once.
            let arena = unsafe { $crate::Arena::take(core::ptr::addr_of_mut!(ARENA)) };
            let mut logits = [0i16; fastvit_model::CLASSES];
            $crate::no_panic::run_and_exit(fastvit_model::weights_intact(), &mut logits, |logits| {
                let (Ok(arena), Ok(logits)) = (
                    arena.try_into(),
                    <&mut [fastvit_model::Logit; fastvit_model::CLASSES]>::try_from(logits),
                ) else {
                    return false;
                };
                #[cfg(feature = "deliberate-panic")]
                {
                    // An index the compiler cannot prove in range: a reachable panic.
                    let i = core::hint::black_box(fastvit_model::CLASSES);
                    logits[i] = 1;
                }
                fastvit_model::classify(arena, &IMAGE, logits).is_ok()
            })
        }

        $crate::board_entry!();
    };
}

/// The whole of a Cortex-M board's `kernels` binary: the board's name, the
/// conformance buffers, the shape timing's weights (with the model's, in
/// `.fastvit_weights`), inputs and outputs, the entry point and `fn run() ->
/// !`, which runs [`semihosting::conformance_and_exit`].
#[cfg(feature = "cortex-m")]
#[macro_export]
macro_rules! conformance_board {
    ($name:literal, $core:literal) => {
        const BOARD: $crate::Board = $crate::Board::new($name, $core);

        static mut BUFFERS: $crate::conformance::Buffers = $crate::conformance::Buffers::new();

        /// Weights for the shape timing (any bytes), with the model's weights.
        #[link_section = ".fastvit_weights"]
        static WEIGHTS: [i8; 1152 * 384] = [0x5A; 1152 * 384];

        const N: usize = $crate::conformance::SHAPE_PIXELS * 1152;
        static mut X: [i8; N] = [0; N];
        static mut Y: [i8; N] = [0; N];
        static mut WORDS: [u32; 2 * 1152] = [0; 2 * 1152];

        /// Runs every conformance suite, then the shape timing, and exits.
        fn run() -> ! {
            // SAFETY: the only references to these statics, taken once.
            let (buffers, x, y, words) = unsafe {
                (
                    &mut *core::ptr::addr_of_mut!(BUFFERS),
                    &mut *core::ptr::addr_of_mut!(X),
                    &mut *core::ptr::addr_of_mut!(Y),
                    &mut *core::ptr::addr_of_mut!(WORDS),
                )
            };
            $crate::semihosting::conformance_and_exit(&BOARD, buffers, (&WEIGHTS, x, y, words))
        }

        $crate::board_entry!();
    };
}

/// A real board's run, once its clocks are set and its cycle counter runs,
/// after the report's header (and any lines of its own): the weight check,
/// the model on `image` in the arena `ARENA` (a static of the binary, taken
/// here), and [`bench::run_counting_cycles`] with `cycle_count`. Evaluates
/// to whether the result is ok. The binary needs `fastvit_model` as a
/// dependency.
#[cfg(feature = "defmt")]
#[macro_export]
macro_rules! real_board_run {
    ($out:expr, $image:expr, $arena:ident, $cycle_count:expr) => {{
        // SAFETY: the only reference to the arena, taken once.
        let arena = unsafe { $crate::Arena::take(core::ptr::addr_of_mut!($arena)) };
        $crate::bench::run_counting_cycles::<
            { fastvit_model::CLASSES },
            { fastvit_model::LAYERS + 1 },
        >(
            $out,
            &fastvit_model::MODEL,
            fastvit_model::weights_intact(),
            $image,
            arena,
            $cycle_count,
        )
    }};
}

/// Marks a point of the benchmark: index 0 just before the model runs, index
/// `i + 1` right after layer `i`.
///
/// Never inlined and exported under this name: the QEMU plugin finds the
/// function by its symbol and logs the running count of executed instructions
/// each time it is entered (the plugin API cannot read the argument, so marks
/// are numbered by order; [`bench::run`] reports how many it made).
#[no_mangle]
#[inline(never)]
pub extern "C" fn fastvit_perf_mark(index: u32) {
    core::hint::black_box(index);
}

/// Storage for the activation arena, declared by each board as a `static mut`
/// in the section its linker script places (`.fastvit_arena`, NOLOAD: nothing
/// is loaded or zeroed at reset; [`Arena::take`] zeroes it).
#[repr(C, align(16))]
pub struct Arena<const N: usize>(core::mem::MaybeUninit<[i8; N]>);

impl<const N: usize> Arena<N> {
    /// An arena whose contents are not initialized.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Arena(core::mem::MaybeUninit::uninit())
    }

    /// Zeroes the arena and hands out the only reference to it.
    ///
    /// # Safety
    /// `this` points to a `static` arena that nothing else references, and
    /// `take` is called at most once for it.
    pub unsafe fn take(this: *mut Self) -> &'static mut [i8] {
        // SAFETY: the caller guarantees exclusive, 'static access; zeroing
        // initializes every byte before the slice is formed.
        unsafe {
            let p = core::ptr::addr_of_mut!((*this).0) as *mut i8;
            core::ptr::write_bytes(p, 0, N);
            core::slice::from_raw_parts_mut(p, N)
        }
    }
}
