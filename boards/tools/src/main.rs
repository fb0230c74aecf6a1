//! `fastvit-boards` (run by `boards/run-all.sh`): runs every emulated board,
//! compares each with the host bit for bit, and writes
//! `target/boards/results.json` and `results.md`. Exits non-zero if a board
//! failed, differs from the host, or counted differently on a second run.

use std::path::PathBuf;
use std::process::ExitCode;

use fastvit_boards::{run_all, Options, BOARDS};

const USAGE: &str = "usage: run-all.sh [options]

  --resolution N     model input side (multiple of 32; default 128, the CI size;
                     256 is the pretrained model's and the benchmark's, and the
                     default of --stage-only with --checkpoint)
  --model DIR        use this generated model crate instead of generating one
  --checkpoint FILE  codegen checkpoint (default: codegen's built-in synthetic model)
  --regenerate       regenerate the model even if it looks current
  --image FILE       test photo (default codegen/data/calib/heldout/china-0.jpg)
  --boards A,B,..    boards to run (default: all)
  --runs N           QEMU runs per board; 2+ also checks the counts repeat (default 2)
  --jobs N           QEMU runs at once (default 2)
  --timeout S        seconds before a QEMU run is killed (default 900)
  --out DIR          results folder (default target/boards)
  --stage-only       generate and stage the model for `cargo run` in a board folder, then stop;
                     prints the resolution it staged
  --no-panic-check   prove at link time that inference cannot panic (no-panic binaries of
                     mps2-an386, mps3-an547, virt-a53, virt-a76) at 256x256 and 128x128
                     (or at --resolution only), run them against the host, and check
                     that a deliberate panic fails the link
  --real             build the real-board firmware instead of running the emulated boards,
                     each at the largest resolution (256, 224, ...) whose arena fits its RAM,
                     or all at --resolution if given";

fn main() -> ExitCode {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repo = repo.canonicalize().unwrap_or(repo);
    let mut opts = Options::new(&repo);
    let mut stage_only = false;
    let mut no_panic = false;
    let mut real = false;
    let mut resolution_given = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("{name} needs a value\n\n{USAGE}");
                std::process::exit(2)
            })
        };
        let number = |name: &str, v: String| -> u64 {
            v.parse().unwrap_or_else(|_| {
                eprintln!("{name} takes a number, not '{v}'");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--resolution" => {
                opts.resolution = number(&a, value(&a)) as usize;
                resolution_given = true;
            }
            "--model" => opts.model = Some(PathBuf::from(value(&a))),
            "--checkpoint" => opts.checkpoint = Some(PathBuf::from(value(&a))),
            "--regenerate" => opts.regenerate = true,
            "--image" => opts.image = PathBuf::from(value(&a)),
            "--boards" => opts.boards = value(&a).split(',').map(str::to_string).collect(),
            "--runs" => opts.runs = number(&a, value(&a)) as usize,
            "--jobs" => opts.jobs = number(&a, value(&a)) as usize,
            "--timeout" => opts.timeout_s = number(&a, value(&a)),
            "--out" => opts.out = PathBuf::from(value(&a)),
            "--stage-only" => stage_only = true,
            "--no-panic-check" => no_panic = true,
            "--real" => real = true,
            "-h" | "--help" => {
                println!(
                    "{USAGE}\n\nboards: {}",
                    BOARDS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
                );
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("unknown argument '{a}'\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let log = |s: &str| eprintln!("{s}");
    if stage_only {
        // A user's checkpoint is staged at the size it was trained for
        // (timm's fastvit_t8: 256) unless they ask otherwise.
        let why = if resolution_given {
            "as asked by --resolution"
        } else if opts.checkpoint.is_some() {
            opts.resolution = 256;
            "the default for a checkpoint; --resolution N to change"
        } else {
            "the CI default for the built-in model; --resolution N to change"
        };
        let staged = (|| {
            let model = fastvit_boards::prepare_model(&opts, &mut |s| log(s))?;
            let res = fastvit_boards::model_resolution(&model)?;
            let frame = fastvit_boards::test_frame(&opts.image, res)?;
            fastvit_boards::stage(&model, &opts.staged_model(), &frame)?;
            Ok::<_, String>(res)
        })();
        return match staged {
            Ok(res) => {
                let why = if opts.model.is_some() {
                    "the resolution of the --model crate"
                } else {
                    why
                };
                println!(
                    "staged the {res}x{res} model ({why}), its test image and camera frame at {}",
                    opts.staged_model().display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if no_panic {
        let resolutions = if resolution_given {
            vec![opts.resolution]
        } else {
            fastvit_boards::no_panic::RESOLUTIONS.to_vec()
        };
        return match fastvit_boards::no_panic::check_all(&opts, &resolutions, &log) {
            Ok(proven) => {
                for p in proven {
                    println!("{}", p.line());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let (result, md) = if real {
        let res = resolution_given.then_some(opts.resolution);
        (
            fastvit_boards::build_real(&opts, res, &log),
            "real-boards.md",
        )
    } else {
        (run_all(&opts, &log), "results.md")
    };
    match result {
        Ok(summary) => {
            if let Ok(md) = std::fs::read_to_string(opts.out.join(md)) {
                println!("{md}");
            }
            if summary.ok {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "some boards failed: see above and {}",
                    opts.out.join("results.json").display()
                );
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
