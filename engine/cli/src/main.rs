//! `vmtriage`: triage Linux kernel crash dumps.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use miette::{Diagnostic, Report};
use vmtriage_cli::{print, report, Session};

/// Exit codes: 0 success; 1 the command ran and found a problem (a diagnosis
/// above info for `scan`, a failed check); 2 bad input (unreadable dump, wrong
/// vmlinux, bad arguments).
#[derive(Parser)]
#[command(name = "vmtriage", version, about = "Triage Linux kernel crash dumps",
    after_help = "Exit codes: 0 success; 1 findings or failed checks; 2 bad input (dump, vmlinux, arguments).")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
struct DumpArgs {
    /// The crash dump (ELF vmcore, kdump-compressed or flattened).
    dump: PathBuf,
    /// The debug vmlinux of the dump's kernel.
    #[arg(long)]
    vmlinux: Option<PathBuf>,
    /// Extra directories to search for the debug vmlinux.
    #[arg(long = "debuginfo-dir")]
    debuginfo_dirs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Subcommand)]
enum Cmd {
    /// Release, format, crash context of a dump.
    Info(DumpArgs),
    /// Every task, as ps shows it.
    Ps(DumpArgs),
    /// The kernel log.
    Dmesg(DumpArgs),
    /// A global or a task field by dotted path: `tasklist_lock.raw_lock.cnts.counter`, `task(1).comm`.
    Print {
        #[command(flatten)]
        args: DumpArgs,
        expr: String,
    },
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{0}")]
#[diagnostic(code(vmtriage::read), help("the dump may be filtered (makedumpfile -d) or damaged where this lives; other commands may still work"))]
struct ReadFailed(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:?}");
            ExitCode::from(2)
        }
    }
}

fn open(a: &DumpArgs) -> Result<Session, Report> {
    Ok(Session::open(&a.dump, a.vmlinux.as_deref(), &a.debuginfo_dirs)?)
}

fn emit<T: serde::Serialize>(f: Format, v: &T, text: impl FnOnce(&T) -> String) {
    match f {
        Format::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        Format::Text => print!("{}", text(v)),
    }
}

fn run(cli: Cli) -> Result<ExitCode, Report> {
    let rf = |e: kmodel::Error| Report::new(ReadFailed(e.to_string()));
    match cli.cmd {
        Cmd::Info(a) => {
            let s = open(&a)?;
            let i = report::info(&s.kernel).map_err(rf)?;
            emit(a.format, &i, report::info_text);
        }
        Cmd::Ps(a) => {
            let s = open(&a)?;
            let rows = report::ps(&s.kernel).map_err(rf)?;
            emit(a.format, &rows, |r| report::ps_text(r));
        }
        Cmd::Dmesg(a) => {
            let s = open(&a)?;
            let rows = report::dmesg(&s.kernel).map_err(rf)?;
            emit(a.format, &rows, |r| report::dmesg_text(r));
        }
        Cmd::Print { args, expr } => {
            let s = open(&args)?;
            let p = print::print(&s.kernel, &expr).map_err(rf)?;
            emit(args.format, &p, print::print_text);
        }
    }
    Ok(ExitCode::SUCCESS)
}
