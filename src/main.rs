//! The `mmsim` command line: argument parsing and output selection only.

use clap::{Parser, Subcommand};
use mmsim::run::output::{self, Style};
use mmsim::run::{Runner, effective_variant};
use mmsim::script;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mmsim", version, about = "An executable model of Linux memory management and Xen PV memory")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenario files (.mms); exit 0 if all pass, 1 on a failed
    /// expectation or broken invariant, 2 on a script error.
    Run {
        #[arg(required = true)]
        files: Vec<String>,
        /// Override the file's kernel line: 'VARIANT [unmap=deferred|immediate]'.
        #[arg(long)]
        kernel: Option<String>,
        /// One JSON object per line (schema 1) instead of text; each step
        /// carries the events it caused.
        #[arg(long)]
        json: bool,
        /// Show the events each action caused, indented under it.
        #[arg(long)]
        trace: bool,
    },
    /// The seed's story: the built-in scenario under every kernel variant.
    Demo,
    /// Search action orders for invariant breaks; shrink and save reproducers.
    Explore {
        /// Kernel variant words, as for `run --kernel`.
        #[arg(long, default_value = "find-special-page")]
        kernel: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop after this many actions in all.
        #[arg(long)]
        steps: Option<u64>,
        /// Actions per generated sequence.
        #[arg(long, default_value_t = 30)]
        length: usize,
        /// Stop after this many seconds.
        #[arg(long)]
        time: Option<f64>,
        /// Run only shard I of N (`I/N`), to split a campaign across machines.
        #[arg(long, default_value = "0/1")]
        shard: String,
        /// Worker threads.
        #[arg(short = 'j', long, default_value_t = 1)]
        jobs: usize,
        /// Save each reproducer as DIR/<invariant>.mms.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Keep going after the first bug (collect one per invariant).
        #[arg(long)]
        keep_going: bool,
        /// Replay one sequence from its printed choice string.
        #[arg(long)]
        replay: Option<String>,
        /// Enumerate choices depth-first instead of drawing them at random
        /// (bounded by --steps/--time; for short --length).
        #[arg(long)]
        exhaustive: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run { files, kernel, json, trace } => run(&files, kernel.as_deref(), json, trace),
        Cmd::Explore { kernel, seed, steps, length, time, shard, jobs, out, keep_going, replay, exhaustive } => {
            explore(&kernel, seed, steps, length, time, &shard, jobs, out, keep_going, replay, exhaustive)
        }
        Cmd::Demo => {
            let color = std::io::stdout().is_terminal();
            print!("{}", mmsim::demo::render(color));
            ExitCode::SUCCESS
        }
    }
}

fn run(files: &[String], kernel: Option<&str>, json: bool, trace: bool) -> ExitCode {
    let style = Style { color: !json && std::io::stdout().is_terminal() };
    let estyle = std::io::stderr().is_terminal();
    let over = match kernel.map(script::parse_kernel_override) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(errs)) => {
            eprint!("{}", script::render_errors("--kernel", kernel.unwrap_or_default(), &errs, estyle));
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed, mut worst) = (0u32, 0u32, 0u8);
    for f in files {
        let src = match std::fs::read_to_string(f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{f}: error: cannot read: {e}");
                failed += 1;
                worst = worst.max(2);
                continue;
            }
        };
        let checked = match script::parse_and_check(f, &src) {
            Ok(c) => c,
            Err(errs) => {
                eprint!("{}", script::render_errors(f, &src, &errs, estyle));
                failed += 1;
                worst = worst.max(2);
                continue;
            }
        };
        let variant = effective_variant(&checked, over);
        if !json {
            let _ = writeln!(out, "{}", style.bold(&format!("== {f} (kernel {variant})")));
        }
        let mut runner = Runner::new(&checked, variant);
        if trace || json {
            runner.enable_trace();
        }
        let mut sink = |e: &mmsim::run::Event| {
            let _ = if json {
                writeln!(out, "{}", output::event_json(f, e))
            } else {
                write!(out, "{}", output::event_text(f, e, style))
            };
        };
        match runner.run(&mut sink) {
            Ok(o) => {
                let _ = if json {
                    writeln!(out, "{}", output::outcome_json(f, &o))
                } else {
                    write!(out, "{}", output::outcome_text(&o, style))
                };
                if o.status() == 0 {
                    passed += 1;
                } else {
                    failed += 1;
                    worst = worst.max(1);
                }
            }
            Err(e) => {
                let _ = out.flush();
                eprint!("{}", script::render_errors(f, &src, &[e], estyle));
                failed += 1;
                worst = worst.max(2);
            }
        }
    }
    if files.len() > 1 && !json {
        let _ = writeln!(out, "{passed} passed, {failed} failed");
    }
    ExitCode::from(worst)
}

#[allow(clippy::too_many_arguments)]
fn explore(
    kernel: &str,
    seed: u64,
    steps: Option<u64>,
    length: usize,
    time: Option<f64>,
    shard: &str,
    jobs: usize,
    out: Option<std::path::PathBuf>,
    keep_going: bool,
    replay: Option<String>,
    exhaustive: bool,
) -> ExitCode {
    use mmsim::explore;
    let variant = match mmsim::run::parse_variant(kernel) {
        Ok(v) => v,
        Err(errs) => {
            eprint!("{}", script::render_errors("--kernel", kernel, &errs, std::io::stderr().is_terminal()));
            return ExitCode::from(2);
        }
    };
    if let Some(r) = replay {
        let Some(choices) = explore::chooser::decode(&r) else {
            eprintln!("--replay: malformed choice string");
            return ExitCode::from(2);
        };
        let (ops, t) = explore::replay(variant, &choices, length);
        print!("{}", explore::generate::script(&ops, false));
        println!("# {t:?}");
        return if matches!(t, explore::Trial::Clean) { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    let parsed = shard.split_once('/').and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
    let Some((si, sn)) = parsed.filter(|(i, n)| *n > 0 && i < n) else {
        eprintln!("--shard: expected I/N with I < N");
        return ExitCode::from(2);
    };
    if steps.is_none() && time.is_none() {
        eprintln!("explore: give --steps or --time");
        return ExitCode::from(2);
    }
    let cfg = explore::Config {
        variant,
        seed,
        length: length.clamp(1, 10_000),
        max_steps: steps,
        time: time.map(std::time::Duration::from_secs_f64),
        shard: (si, sn),
        jobs: jobs.max(1),
        stop_at_first: !keep_going,
    };
    let bar = indicatif::ProgressBar::new(steps.unwrap_or(0));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {pos} steps ({per_sec}) {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    // A panic inside the model is caught and reported as a finding; keep
    // the default hook from printing it in the middle of the progress bar.
    std::panic::set_hook(Box::new(|_| {}));
    let report = |st: u64, seqs: u64, found: usize| {
        bar.set_position(st);
        bar.set_message(format!("{seqs} sequences, {found} found"));
    };
    let summary = if exhaustive { explore::explore_exhaustive(&cfg, &report) } else { explore::explore(&cfg, &report) };
    let _ = std::panic::take_hook();
    bar.finish_and_clear();
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    println!(
        "explore: kernel {variant}, seed {seed}, shard {si}/{sn}: {} sequences, {} steps in {:.1} s ({:.0} steps/s), {} found",
        summary.sequences,
        summary.steps,
        secs,
        summary.steps as f64 / secs,
        summary.found.len()
    );
    for f in &summary.found {
        println!(
            "\nfound {} after {:.2} s ({} steps): {}\nreproducer ({} actions):",
            f.invariant,
            f.after.as_secs_f64(),
            f.steps_before,
            f.message,
            f.ops.len()
        );
        let text = f.scenario(variant);
        print!("{text}");
        if let Some(dir) = &out {
            let _ = std::fs::create_dir_all(dir);
            let path = dir.join(format!("{}.mms", f.invariant));
            if let Err(e) = std::fs::write(&path, &text) {
                eprintln!("{}: {e}", path.display());
            } else {
                println!("saved {}", path.display());
            }
        }
    }
    if summary.found.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
