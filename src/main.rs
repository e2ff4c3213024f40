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
        /// One JSON object per line (schema 1) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The seed's story: the built-in scenario under every kernel variant.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run { files, kernel, json } => run(&files, kernel.as_deref(), json),
        Cmd::Demo => {
            let color = std::io::stdout().is_terminal();
            print!("{}", mmsim::demo::render(color));
            ExitCode::SUCCESS
        }
    }
}

fn run(files: &[String], kernel: Option<&str>, json: bool) -> ExitCode {
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
