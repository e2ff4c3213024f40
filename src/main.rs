//! The `mmsim` command line: argument parsing and output selection only.

use clap::{Parser, Subcommand};
use mmsim::run::output::{self, Style};
use mmsim::run::{Runner, effective_variant};
use mmsim::script;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Longest generated sequence (`--length`), for search and replay alike.
const MAX_LENGTH: u64 = 10_000;
/// Longest `--time` in seconds: one week.
const MAX_TIME_SECS: f64 = 604_800.0;

/// `--time`: finite seconds, 0 < T <= [`MAX_TIME_SECS`].
fn parse_time(s: &str) -> Result<f64, String> {
    let t: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !t.is_finite() || t <= 0.0 || t > MAX_TIME_SECS {
        return Err(format!("expected seconds with 0 < T <= {MAX_TIME_SECS}, got `{s}`"));
    }
    Ok(t)
}

/// `--shard I/N`: 0 <= I < N.
fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let parsed =
        s.split_once('/').and_then(|(i, n)| Some((i.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?)));
    parsed.filter(|(i, n)| *n > 0 && i < n).ok_or_else(|| format!("expected I/N with 0 <= I < N, got `{s}`"))
}

/// The most worker threads: 4 x `available_parallelism`.
fn max_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).saturating_mul(4)
}

/// `-j N`: 1 <= N <= [`max_jobs`].
fn parse_jobs(s: &str) -> Result<usize, String> {
    let max = max_jobs();
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected 1 to {max} worker threads (4 x the available cores), got `{s}`")),
    }
}

/// Writes to stdout; false once the reader has gone (a closed pipe), so
/// the caller stops quietly instead of panicking like `print!`.
fn out(w: &mut impl Write, s: &str) -> bool {
    w.write_all(s.as_bytes()).is_ok()
}

/// Reads a script with a bounded reader: at most
/// [`script::MAX_SOURCE_BYTES`] + 1 bytes are read, so `/dev/zero` or a
/// huge file ends with the parser's "too large" error, not the allocator's.
/// `-` is standard input.
fn read_script(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let f: Box<dyn Read> =
        if path == "-" { Box::new(std::io::stdin().lock()) } else { Box::new(std::fs::File::open(path)?) };
    let mut buf = Vec::new();
    f.take(script::MAX_SOURCE_BYTES as u64 + 1).read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[derive(Parser)]
#[command(name = "mmsim", version, about = "An executable model of Linux memory management and Xen PV memory")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenario files (.mms; `-` reads standard input); exit 0 if all
    /// pass, 1 on a failed expectation or an unexpected (or missing
    /// expected) violation, 2 on a script error.
    Run {
        #[arg(required = true)]
        files: Vec<String>,
        /// Override the file's kernel line: 'VARIANT [unmap=deferred|immediate]'.
        #[arg(long)]
        kernel: Option<String>,
        /// One JSON object per line (schema 2, docs/JSON.md) instead of
        /// text; each step carries the events it caused.
        #[arg(long)]
        json: bool,
        /// Show the events each action caused, indented under it.
        #[arg(long)]
        trace: bool,
    },
    /// The seed's story: the built-in scenario under every kernel variant.
    Demo {
        /// One JSON object per line (schema 2, docs/JSON.md): a `demo`
        /// record per kernel variant.
        #[arg(long)]
        json: bool,
    },
    /// Search action orders for invariant breaks; shrink and save reproducers.
    Explore {
        /// Kernel variant words, as for `run --kernel`.
        #[arg(long, default_value = "find-special-page")]
        kernel: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop after this many actions in all (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        steps: Option<u64>,
        /// Actions per generated sequence (1 to 10000; also for --replay).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=MAX_LENGTH))]
        length: u64,
        /// Stop after this many seconds (0 < T <= 604800, one week).
        #[arg(long, value_parser = parse_time)]
        time: Option<f64>,
        /// Run only shard I of N (`I/N`), to split a campaign across machines.
        #[arg(long, default_value = "0/1", value_parser = parse_shard)]
        shard: (u64, u64),
        /// Worker threads (1 to 4 x the available cores).
        #[arg(short = 'j', long, default_value_t = 1, value_parser = parse_jobs)]
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
        /// One JSON object per line (schema 2, docs/JSON.md): a `finding`
        /// per bug, then an `explore` summary.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run { files, kernel, json, trace } => run(&files, kernel.as_deref(), json, trace),
        Cmd::Explore { kernel, seed, steps, length, time, shard, jobs, out, keep_going, replay, exhaustive, json } => {
            explore(&kernel, seed, steps, length, time, shard, jobs, out, keep_going, replay, exhaustive, json)
        }
        Cmd::Demo { json } => {
            let text =
                if json { mmsim::demo::render_json() } else { mmsim::demo::render(std::io::stdout().is_terminal()) };
            let _ = out(&mut std::io::stdout().lock(), &text);
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
            if json {
                for e in &errs {
                    println!("{}", output::error_json("--kernel", kernel.unwrap_or_default(), e));
                }
            }
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed, mut worst) = (0u32, 0u32, 0u8);
    for f in files {
        let src = match read_script(f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{f}: error: cannot read: {e}");
                if json && writeln!(out, "{}", output::error_json_bare(f, &format!("cannot read: {e}"))).is_err() {
                    return ExitCode::from(2);
                }
                failed += 1;
                worst = worst.max(2);
                continue;
            }
        };
        let checked = match script::parse_and_check(f, &src) {
            Ok(c) => c,
            Err(errs) => {
                eprint!("{}", script::render_errors(f, &src, &errs, estyle));
                if json {
                    for e in &errs {
                        if writeln!(out, "{}", output::error_json(f, &src, e)).is_err() {
                            return ExitCode::from(2);
                        }
                    }
                }
                failed += 1;
                worst = worst.max(2);
                continue;
            }
        };
        let variant = effective_variant(&checked, over);
        let head = if json {
            writeln!(out, "{}", output::start_json(f, &variant.to_string()))
        } else {
            writeln!(out, "{}", style.bold(&format!("== {f} (kernel {variant})")))
        };
        if head.is_err() {
            return ExitCode::from(worst);
        }
        let mut runner = Runner::new(&checked, variant);
        let mut closed = false;
        if trace || json {
            runner.enable_trace();
        }
        let mut sink = |e: &mmsim::run::Event| {
            if closed {
                return;
            }
            let r = if json {
                writeln!(out, "{}", output::event_json(f, e))
            } else {
                write!(out, "{}", output::event_text(f, e, style))
            };
            closed = r.is_err();
        };
        let result = runner.run(&mut sink);
        if closed {
            // The reader went away (`| head`): stop quietly.
            return ExitCode::from(worst);
        }
        match result {
            Ok(o) => {
                let r = if json {
                    writeln!(out, "{}", output::outcome_json(f, &o))
                } else {
                    write!(out, "{}", output::outcome_text(&o, style))
                };
                if r.is_err() {
                    return ExitCode::from(worst);
                }
                if o.status() == 0 {
                    passed += 1;
                } else {
                    failed += 1;
                    worst = worst.max(1);
                }
            }
            Err(e) => {
                if json {
                    let _ = writeln!(out, "{}", output::error_json(f, &src, &e));
                }
                let _ = out.flush();
                eprint!("{}", script::render_errors(f, &src, &[e], estyle));
                failed += 1;
                worst = worst.max(2);
            }
        }
    }
    if files.len() > 1 {
        let _ = if json {
            writeln!(out, "{}", output::summary_json(passed, failed, worst))
        } else {
            writeln!(out, "{passed} passed, {failed} failed")
        };
    }
    ExitCode::from(worst)
}

#[allow(clippy::too_many_arguments)]
fn explore(
    kernel: &str,
    seed: u64,
    steps: Option<u64>,
    length: u64,
    time: Option<f64>,
    shard: (u64, u64),
    jobs: usize,
    out_dir: Option<std::path::PathBuf>,
    keep_going: bool,
    replay: Option<String>,
    exhaustive: bool,
    json: bool,
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
        let (ops, t) = explore::replay(variant, &choices, length as usize);
        let text = format!("{}# {t:?}\n", explore::generate::script(&ops, false));
        let _ = out(&mut std::io::stdout().lock(), &text);
        return if matches!(t, explore::Trial::Clean) { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    let (si, sn) = shard;
    if steps.is_none() && time.is_none() {
        eprintln!("explore: give --steps or --time");
        return ExitCode::from(2);
    }
    let cfg = explore::Config {
        variant,
        seed,
        length: length as usize,
        max_steps: steps,
        time: time.map(std::time::Duration::from_secs_f64),
        shard: (si, sn),
        jobs,
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
    let mut stdout = std::io::stdout().lock();
    if json {
        let mut open = true;
        for f in &summary.found {
            let text = f.scenario(variant);
            let saved = out_dir.as_ref().and_then(|dir| {
                let _ = std::fs::create_dir_all(dir);
                let path = dir.join(format!("{}.mms", f.invariant));
                match std::fs::write(&path, &text) {
                    Ok(()) => Some(path.display().to_string()),
                    Err(e) => {
                        eprintln!("{}: {e}", path.display());
                        None
                    }
                }
            });
            let rec = serde_json::json!({
                "schema": output::SCHEMA, "type": "finding", "kernel": variant.to_string(), "invariant": f.invariant,
                "message": f.message, "seed": f.seed.to_string(), "choices": f.choices, "after_s": f.after.as_secs_f64(),
                "steps_before": f.steps_before, "actions": f.ops.len(), "scenario": text, "saved": saved
            });
            open = open && out(&mut stdout, &format!("{rec}\n"));
        }
        let rec = serde_json::json!({
            "schema": output::SCHEMA, "type": "explore", "kernel": variant.to_string(), "seed": seed.to_string(),
            "shard": [si, sn], "sequences": summary.sequences, "steps": summary.steps, "elapsed_s": secs,
            "found": summary.found.len()
        });
        let _ = open && out(&mut stdout, &format!("{rec}\n"));
        return if summary.found.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    let mut open = out(
        &mut stdout,
        &format!(
            "explore: kernel {variant}, seed {seed}, shard {si}/{sn}: {} sequences, {} steps in {:.1} s ({:.0} steps/s), {} found\n",
            summary.sequences,
            summary.steps,
            secs,
            summary.steps as f64 / secs,
            summary.found.len()
        ),
    );
    for f in &summary.found {
        let text = f.scenario(variant);
        open = open
            && out(
                &mut stdout,
                &format!(
                    "\nfound {} after {:.2} s ({} steps): {}\nreproducer ({} actions):\n{text}",
                    f.invariant,
                    f.after.as_secs_f64(),
                    f.steps_before,
                    f.message,
                    f.ops.len()
                ),
            );
        if let Some(dir) = &out_dir {
            let _ = std::fs::create_dir_all(dir);
            let path = dir.join(format!("{}.mms", f.invariant));
            if let Err(e) = std::fs::write(&path, &text) {
                eprintln!("{}: {e}", path.display());
            } else {
                open = open && out(&mut stdout, &format!("saved {}\n", path.display()));
            }
        }
    }
    if summary.found.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
