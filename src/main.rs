//! The `mmsim` command line: argument parsing and output selection only.

use clap::{Parser, Subcommand};
use mmsim::run::output::{self, Style};
use mmsim::run::{Runner, effective_variant};
use mmsim::script;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the model allocates small objects
/// throughout (scripts, VMAs, page-table maps, invariant scratch), and
/// `mmsim explore` spent about a quarter of its time in malloc/free
/// (docs/EXPLORE.md "Speed"). Results do not depend on the allocator.
/// (`host_alloc`: mimalloc through its plain entry points where they give
/// the alignment asked.)
#[global_allocator]
static GLOBAL: mmsim::host_alloc::MiMalloc = mmsim::host_alloc::MiMalloc;

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

/// Writes to stderr, ignoring a closed or failing stderr (`eprint!` would
/// panic there).
fn err(s: &str) {
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
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
        /// Override the file's kernel line: 'VARIANT [unmap=deferred|immediate|async]'.
        #[arg(long)]
        kernel: Option<String>,
        /// One JSON object per line (schema 2, docs/JSON.md) instead of
        /// text; each step carries the events it caused.
        #[arg(long)]
        json: bool,
        /// Show the events each action caused, indented under it.
        #[arg(long)]
        trace: bool,
        /// Also write a step-through web page: with one FILE, the page
        /// itself; with several, a directory of FILE-stem.html pages.
        #[arg(long, value_name = "OUT")]
        html: Option<std::path::PathBuf>,
    },
    /// The seed's story: the built-in scenario under every kernel variant.
    Demo {
        /// Also write one step-through page per variant and an index.html
        /// putting them side by side into DIR.
        #[arg(long, value_name = "DIR")]
        html: Option<std::path::PathBuf>,
        /// One JSON object per line (schema 2, docs/JSON.md): a `demo`
        /// record per kernel variant.
        #[arg(long)]
        json: bool,
    },
    /// Search action orders for invariant breaks; shrink and save reproducers.
    #[command(args_conflicts_with_subcommands = true)]
    Explore {
        #[command(subcommand)]
        action: Option<ExploreCmd>,
        #[command(flatten)]
        args: ExploreArgs,
    },
}

/// The options of `mmsim explore` (without a subcommand).
#[derive(clap::Args)]
struct ExploreArgs {
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
    /// Save each reproducer as DIR/<invariant>-<cause id>.mms (with its
    /// step-through page beside it, .html) and the shard's summary as
    /// DIR/summary.json (for `explore merge`).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Keep going after the first bug (collect one per distinct cause).
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
    /// Also draw direct pins and their release, syscalls on driver
    /// mappings, qemu's exit, and fork under memory pressure (for
    /// --replay too: give it to replay a choice string found with it).
    #[arg(long)]
    reach: bool,
    /// Draw every sequence afresh at random, without novelty guidance
    /// (by default sequences that found new coverage are kept and
    /// mutated; docs/EXPLORE.md).
    #[arg(long)]
    uniform: bool,
    /// Count the distinct abstract states reached (slower; for
    /// comparing search strategies).
    #[arg(long)]
    count_states: bool,
    /// After the campaign, compare its bugs with the invariants the
    /// golden scenarios in DIR (`expect violation`) name for this kernel
    /// setting: print those found and those missed.
    #[arg(long)]
    goldens: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum ExploreCmd {
    /// Merge shard outputs (DIR/summary.json of `explore --out DIR`):
    /// totals, bugs deduplicated by cause, one report. Exit 1 if any bug.
    Merge {
        #[arg(required = true)]
        dirs: Vec<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run { files, kernel, json, trace, html } => run(&files, kernel.as_deref(), json, trace, html.as_deref()),
        Cmd::Explore { action: Some(ExploreCmd::Merge { dirs }), .. } => merge(&dirs),
        Cmd::Explore { action: None, args } => explore(args),
        Cmd::Demo { html, json } => {
            let text =
                if json { mmsim::demo::render_json() } else { mmsim::demo::render(std::io::stdout().is_terminal()) };
            let _ = out(&mut std::io::stdout().lock(), &text);
            match html {
                None => ExitCode::SUCCESS,
                Some(dir) => match mmsim::html::demo::write(&dir) {
                    Ok(files) => {
                        let list: String = files.iter().map(|f| format!("wrote {}\n", f.display())).collect();
                        let _ = out(&mut std::io::stdout().lock(), &list);
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        err(&format!("{}: {e}\n", dir.display()));
                        ExitCode::from(2)
                    }
                },
            }
        }
    }
}

/// Where the page of `file` goes: `html` itself for one file, else
/// `html/<stem>.html`.
fn html_path(html: &std::path::Path, file: &str, many: bool) -> std::path::PathBuf {
    if !many {
        return html.to_path_buf();
    }
    let stem = std::path::Path::new(file).file_stem().map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
    html.join(format!("{stem}.html"))
}

fn run(files: &[String], kernel: Option<&str>, json: bool, trace: bool, html: Option<&std::path::Path>) -> ExitCode {
    let style = Style { color: !json && std::io::stdout().is_terminal() };
    let estyle = std::io::stderr().is_terminal();
    let over = match kernel.map(script::parse_kernel_override) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(errs)) => {
            err(&script::render_errors("--kernel", kernel.unwrap_or_default(), &errs, estyle));
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
                err(&format!("{f}: error: cannot read: {e}\n"));
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
                err(&script::render_errors(f, &src, &errs, estyle));
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
        if let Some(h) = html {
            let path = html_path(h, f, files.len() > 1);
            if files.len() > 1 {
                let _ = std::fs::create_dir_all(h);
            }
            let page = mmsim::html::page::render(&mmsim::html::record(f, &checked, variant));
            if let Err(e) = std::fs::write(&path, page) {
                err(&format!("{}: error: cannot write the page: {e}\n", path.display()));
                worst = worst.max(2);
            }
        }
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
                err(&script::render_errors(f, &src, &[e], estyle));
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

fn explore(args: ExploreArgs) -> ExitCode {
    use mmsim::explore;
    let ExploreArgs {
        kernel,
        seed,
        steps,
        length,
        time,
        shard,
        jobs,
        out: out_dir,
        keep_going,
        replay,
        exhaustive,
        json,
        reach,
        uniform,
        count_states,
        goldens,
    } = args;
    let guided = !uniform;
    let kernel = kernel.as_str();
    let variant = match mmsim::run::parse_variant(kernel) {
        Ok(v) => v,
        Err(errs) => {
            err(&script::render_errors("--kernel", kernel, &errs, std::io::stderr().is_terminal()));
            return ExitCode::from(2);
        }
    };
    if let Some(r) = replay {
        let Some(choices) = explore::chooser::decode(&r) else {
            err("--replay: malformed choice string\n");
            return ExitCode::from(2);
        };
        return replay_one(variant, &r, &choices, length as usize, reach);
    }
    let (si, sn) = shard;
    if steps.is_none() && time.is_none() {
        err("explore: give --steps or --time\n");
        return ExitCode::from(2);
    }
    // What the end of the campaign needs is checked before it starts: an
    // --out directory that cannot be made, or --goldens that cannot be
    // read, is an error now, not after a long run.
    if let Some(dir) = &out_dir
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        err(&format!("--out {}: {e}\n", dir.display()));
        return ExitCode::from(2);
    }
    let goldens = match goldens.as_deref().map(|d| (d, explore::goldens::expected(d))) {
        None => None,
        Some((_, Ok(exp))) => Some(exp),
        Some((d, Err(e))) => {
            err(&format!("--goldens {}: {e}\n", d.display()));
            return ExitCode::from(2);
        }
    };
    let cfg = explore::Config {
        variant,
        seed,
        length: length as usize,
        max_steps: steps,
        time: time.map(std::time::Duration::from_secs_f64),
        shard: (si, sn),
        jobs,
        stop_at_first: !keep_going,
        reach,
        guided,
        count_states,
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
    let kernel_words = variant.to_string();
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
    if summary.features > 0 || summary.states > 0 {
        let mut line = String::from("coverage:");
        if summary.features > 0 {
            line.push_str(&format!(" {} features (novelty guidance)", summary.features));
        }
        if summary.states > 0 {
            line.push_str(&format!(" {} distinct abstract states", summary.states));
        }
        if summary.pruned > 0 {
            line.push_str(&format!(", {} subtrees skipped as already-visited states", summary.pruned));
        }
        open = open && out(&mut stdout, &format!("{line}\n"));
    }
    if let Some(exp) = &goldens {
        let want: Vec<String> = exp.get(&variant.to_string()).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        let missed = explore::goldens::missed(exp, variant, &summary.found);
        let found: Vec<&String> = want.iter().filter(|w| !missed.contains(w)).collect();
        open = open
            && out(
                &mut stdout,
                &format!(
                    "goldens: {} expected for this setting; found [{}]; missed [{}]\n",
                    want.len(),
                    found.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
                    missed.join(" ")
                ),
            );
    }
    if let Some(c) = summary.covered {
        let words = if c && summary.pruned > 0 {
            format!(
                "covered every sequence of {length} actions (the whole bounded space, up to abstract states: a skipped subtree began at a state already explored at equal or smaller depth)\n"
            )
        } else if c {
            format!("covered every sequence of {length} actions (the whole bounded space)\n")
        } else {
            format!("did not cover every sequence of {length} actions: the budget ran out or it stopped at a bug\n")
        };
        open = open && out(&mut stdout, &format!("exhaustive: {words}"));
    }
    for f in &summary.found {
        let text = f.scenario(variant);
        open = open
            && out(
                &mut stdout,
                &format!(
                    "\nfound {} after {:.2} s ({} steps): {}\ncause: {}\nreproducer ({} actions):\n{text}",
                    f.invariant,
                    f.after.as_secs_f64(),
                    f.steps_before,
                    f.message,
                    f.signature,
                    f.ops.len()
                ),
            );
        if let Some(dir) = &out_dir {
            let _ = std::fs::create_dir_all(dir);
            let path = dir.join(f.file_name());
            if let Err(e) = std::fs::write(&path, &text) {
                err(&format!("{}: {e}\n", path.display()));
            } else {
                open = open && out(&mut stdout, &format!("saved {}\n", path.display()));
                let name = f.file_name();
                if let Ok((page, _)) = mmsim::html::page_of_source(&name, &text, None) {
                    let hp = path.with_extension("html");
                    if let Err(e) = std::fs::write(&hp, page) {
                        err(&format!("{}: {e}\n", hp.display()));
                    }
                }
            }
        }
    }
    if let Some(dir) = &out_dir {
        let _ = std::fs::create_dir_all(dir);
        let sum =
            explore::campaign::ShardSummary::new(&kernel_words, seed, shard, length as usize, exhaustive, &summary);
        let path = dir.join(explore::campaign::SUMMARY_FILE);
        let text = serde_json::to_string_pretty(&sum).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(&path, text) {
            err(&format!("{}: {e}\n", path.display()));
            return ExitCode::from(2);
        }
        let _ = open && out(&mut stdout, &format!("summary {}\n", path.display()));
    }
    if summary.found.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// `explore --replay`: the sequence of a choice string; when it breaks an
/// invariant, its shrunk, runnable reproducer with the kernel line and the
/// violation in words, after a determinism check (two runs, one event
/// stream).
fn replay_one(
    variant: mmsim::kernel::variant::Variant,
    r: &str,
    choices: &[u32],
    length: usize,
    reach: bool,
) -> ExitCode {
    use mmsim::explore::{self, Found, Trial};
    let (ops, t) = explore::replay(variant, choices, length, reach);
    let mut stdout = std::io::stdout().lock();
    let (text, world, ops, status) = match &t {
        Trial::Clean => {
            let text = format!(
                "# Replay of choices {r}: no invariant broke.\nkernel {variant}\n{}",
                explore::generate::script(&ops, false)
            );
            (text, explore::generate::WORLD.to_string(), ops, 0)
        }
        Trial::Invalid => {
            err("--replay: the sequence did not run (a generator bug)\n");
            return ExitCode::from(2);
        }
        Trial::Violation { .. } | Trial::Panic { .. } => {
            let f = Found::new(variant, &ops, &t, 0, r.to_string());
            let words = match &t {
                Trial::Violation { invariant, message, at } => format!(
                    "# violation: {invariant} broke after action {} of the unshrunk sequence: {}\n",
                    at + 1,
                    message.replace('\n', " ")
                ),
                Trial::Panic { message } => format!("# the model panicked: {}\n", message.replace('\n', " ")),
                _ => String::new(),
            };
            (format!("{}{words}", f.scenario(variant)), f.world.clone(), f.ops.clone(), 1)
        }
    };
    let det = match explore::check_deterministic(variant, &world, &ops) {
        Ok(n) => format!("# determinism: two runs gave the same event stream ({n} events)\n"),
        Err(e) => format!("# determinism: FAILED: {e}\n"),
    };
    let nondeterministic = det.contains("FAILED");
    let _ = out(&mut stdout, &format!("{text}{det}"));
    if nondeterministic {
        return ExitCode::from(1);
    }
    ExitCode::from(status)
}

/// `explore merge DIR...`.
fn merge(dirs: &[std::path::PathBuf]) -> ExitCode {
    use mmsim::explore::campaign;
    let mut shards = Vec::new();
    for d in dirs {
        match campaign::read(d) {
            Ok(s) => shards.push(s),
            Err(e) => {
                err(&format!("explore merge: {e}\n"));
                return ExitCode::from(2);
            }
        }
    }
    let m = campaign::merge(&shards);
    let _ = out(&mut std::io::stdout().lock(), &campaign::report(&m));
    if m.bugs.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
