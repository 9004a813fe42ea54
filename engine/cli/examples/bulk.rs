//! The bulk commands as a stand-alone binary, the same wiring main.rs uses:
//! `cargo run --release --example bulk -- scan ARCHIVE --jobs 2 --db r.sqlite`,
//! `… -- report --db r.sqlite`, `… -- db merge OUT SHARD...`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vmtriage_cli::bulk;

#[derive(Parser)]
#[command(name = "vmtriage-bulk")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Scan(Box<bulk::ScanArgs>),
    Report(bulk::ReportArgs),
    Db {
        #[command(subcommand)]
        cmd: DbCmd,
    },
}

#[derive(Subcommand)]
enum DbCmd {
    Merge(bulk::MergeArgs),
}

fn main() -> ExitCode {
    let r = match Cli::parse().cmd {
        Cmd::Scan(a) => bulk::run_scan(*a),
        Cmd::Report(a) => bulk::run_report(a),
        Cmd::Db {
            cmd: DbCmd::Merge(a),
        } => bulk::run_merge(a),
    };
    r.unwrap_or_else(|e| {
        eprintln!("{e:?}");
        ExitCode::from(2)
    })
}
