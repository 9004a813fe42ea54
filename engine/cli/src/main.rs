//! `vmtriage`: triage Linux kernel crash dumps.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use miette::{Diagnostic, Report};
use vmtriage_cli::{bt, bulk, log, print, report, scan, Session};
use vmtriage_rules::RulePack;

/// Exit codes: 0 success; 1 the command ran and found a problem (a diagnosis
/// above info for `scan`, a rule error for `rules check`, a mismatch for
/// `rules test`); 2 bad input (unreadable dump, wrong vmlinux, bad arguments).
#[derive(Parser)]
#[command(
    name = "vmtriage",
    version,
    about = "Triage Linux kernel crash dumps",
    after_help = "Exit codes: 0 success; 1 findings or failed checks; 2 bad input (dump, vmlinux, arguments)."
)]
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
    /// The crash dump (ELF vmcore, kdump-compressed or flattened); `info`
    /// also takes a kernel log as text (dmesg, vmcore-dmesg.txt,
    /// journalctl -k, syslog, a console capture).
    dump: PathBuf,
    /// The debug vmlinux of the dump's kernel.
    #[arg(long)]
    vmlinux: Option<PathBuf>,
    /// Extra directories to search for the debug vmlinux.
    #[arg(long = "debuginfo-dir")]
    debuginfo_dirs: Vec<PathBuf>,
    /// `none`: read symbols, types and unwind tables from the dump's own
    /// memory (kallsyms, BTF, ORC) even where a debug vmlinux is found.
    /// `auto` does so only when none is found; `dwarf` requires the debug
    /// vmlinux (an error without one).
    #[arg(long, value_enum, default_value = "auto")]
    debuginfo: vmtriage_cli::session::DebugSource,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Subcommand)]
enum Cmd {
    /// Release, format, crash context of a dump; form, size, reports and title of a kernel log.
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
    /// Kernel stacks: of PIDs, of every task (--all) or of the tasks on CPUs (--active).
    Bt {
        #[command(flatten)]
        args: DumpArgs,
        pids: Vec<i32>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        active: bool,
    },
    /// Contended locks: kind, name, state, owner, waiters; the chains from a
    /// waiter to the task at their end, and deadlock cycles.
    Locks {
        #[command(flatten)]
        args: DumpArgs,
        /// Write the wait-for graph in Graphviz DOT instead.
        #[arg(long)]
        dot: bool,
    },
    /// Memory: totals, zones (free pages, watermarks, free blocks by order),
    /// the VM counters, the largest slab caches (crash's kmem -i/-z/-f/-s).
    Kmem(DumpArgs),
    /// What each CPU runs and for how long, load averages, and the runnable
    /// tasks that waited longest for a CPU (crash's runq).
    Runq(DumpArgs),
    /// The RCU grace period: its age, an overdue stall, the CPUs and
    /// preempted readers it waits for.
    Rcu(DumpArgs),
    /// Worker pools that are busy or have work pending: each busy worker's
    /// function, the pending work, time without progress.
    Workqueues(DumpArgs),
    /// A kernel virtual address through the page tables, entry by entry.
    Vtop {
        #[command(flatten)]
        args: DumpArgs,
        /// The address (hex with 0x, or decimal).
        addr: String,
    },
    /// Evaluate the rule pack against dumps (and kernel logs as text),
    /// directories or lists of them and print diagnoses; in parallel with
    /// --jobs, into a database with --db.
    Scan(Box<bulk::ScanArgs>),
    /// Summarise a scan database: findings per rule and release, new buckets.
    Report(bulk::ReportArgs),
    /// Scan databases: merge shards.
    Db {
        #[command(subcommand)]
        cmd: DbCmd,
    },
    /// Evaluate one expression on a dump, for rule authoring: `count(tasks where state == "D")`.
    Query {
        #[command(flatten)]
        args: DumpArgs,
        expr: String,
    },
    /// The rule pack: check, list, show, test.
    Rules {
        #[command(subcommand)]
        cmd: RulesCmd,
    },
    /// The object model rules query (roots, types, fields, functions),
    /// generated from the built-ins' declarations.
    Schema {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Shell completion script on stdout (`vmtriage completions bash >
    /// /etc/bash_completion.d/vmtriage`).
    Completions { shell: clap_complete::Shell },
    /// Man pages, one per command (`vmtriage.1`, `vmtriage-scan.1`, …),
    /// written into DIR.
    Man { dir: PathBuf },
}

#[derive(Subcommand)]
enum DbCmd {
    /// Merge shard databases into one.
    Merge(bulk::MergeArgs),
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Check rule files before any dump is opened; non-zero exit on any error.
    Check {
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// The pack as a table.
    List {
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// A rule as its knowledge-base article.
    Show {
        id: String,
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Write the pack as a static knowledge-base site.
    Export {
        /// Output directory for the HTML site.
        #[arg(long)]
        html: PathBuf,
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Run each rule's tests against the corpus; non-zero exit on any mismatch.
    Test {
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The corpus manifest (default: $VMTRIAGE_CORPUS or ~/.cache/vmtriage-corpus, manifest.json).
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{0}")]
#[diagnostic(code(vmtriage::read), help("the dump may be filtered (makedumpfile -d) or damaged where this lives; other commands may still work"))]
struct ReadFailed(String);

fn main() -> ExitCode {
    vmtriage_cli::pipe::end_quietly_when_the_reader_goes();
    // Error reports wrap at $COLUMNS when the shell exports it (a pipe or a
    // script has no terminal to measure), else at the terminal's width.
    if let Some(width) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|w| *w >= 40)
    {
        let _ = miette::set_hook(Box::new(move |_| {
            Box::new(miette::MietteHandlerOpts::new().width(width).build())
        }));
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:?}");
            ExitCode::from(2)
        }
    }
}

fn load_pack(
    dir: Option<&std::path::Path>,
) -> Result<(RulePack, Vec<vmtriage_rules::RuleDiagnostic>), Report> {
    match dir {
        Some(d) => RulePack::load_dir(d).map_err(|e| {
            miette::miette!(
                code = "vmtriage::rules",
                help = "pass a directory of rule files (*.yaml)",
                "cannot read rules from {}: {e}",
                d.display()
            )
        }),
        None => Ok(RulePack::embedded()),
    }
}

/// A pack that must be clean: rule errors are printed and stop the command.
fn clean_pack(dir: Option<&std::path::Path>) -> Result<RulePack, Report> {
    let (pack, diags) = load_pack(dir)?;
    if !diags.is_empty() {
        for d in &diags {
            eprintln!("{:?}", Report::new(d.clone()));
        }
        return Err(miette::miette!(
            code = "vmtriage::rules",
            help = "run `vmtriage rules check` to see every error",
            "{} error(s) in the rule pack",
            diags.len()
        ));
    }
    Ok(pack)
}

fn manifest_path() -> PathBuf {
    let dir = std::env::var_os("VMTRIAGE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/vmtriage-corpus")
        });
    dir.join("manifest.json")
}

fn open(a: &DumpArgs) -> Result<Session, Report> {
    Ok(Session::open_with(
        &a.dump,
        a.vmlinux.as_deref(),
        &a.debuginfo_dirs,
        a.debuginfo,
    )?)
}

/// `0xffff…` or decimal.
fn parse_addr(s: &str) -> miette::Result<u64> {
    let t = s.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| {
        miette::miette!(
            code = "vmtriage::address",
            help = "write the address in hex with 0x (0xffff888003a1c000) or in decimal",
            "`{s}` is not an address"
        )
    })
}

fn emit<T: serde::Serialize>(f: Format, v: &T, text: impl FnOnce(&T) -> String) {
    match f {
        Format::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        Format::Text => print!("{}", text(v)),
    }
}

/// Exit 3 for an answer that is partial (memory the walk needed could not
/// be read), after its warnings on stderr; 0 for a complete one.
fn partial_exit(gaps: &[kmodel::partial::Gap]) -> ExitCode {
    if gaps.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprint!("{}", report::gap_warnings(gaps));
    ExitCode::from(3)
}

fn run(cli: Cli) -> Result<ExitCode, Report> {
    let rf = |e: kmodel::Error| Report::new(ReadFailed(e.to_string()));
    match cli.cmd {
        Cmd::Info(a) => {
            let s = match Session::open_with(
                &a.dump,
                a.vmlinux.as_deref(),
                &a.debuginfo_dirs,
                a.debuginfo,
            ) {
                Ok(s) => s,
                // No dump: perhaps a kernel log.
                Err(vmtriage_cli::OpenError::Dump {
                    path,
                    source: e @ vmcore::VmcoreError::NotADump { .. },
                }) => {
                    let l = log::open(&path, &e)?;
                    emit(a.format, &log::info(&l), log::info_text);
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.into()),
            };
            let i = report::info(&s.kernel).map_err(rf)?;
            emit(a.format, &i, report::info_text);
            return Ok(partial_exit(&i.gaps));
        }
        Cmd::Ps(a) => {
            let s = open(&a)?;
            let ps = report::ps(&s.kernel).map_err(rf)?;
            emit(a.format, &ps, report::ps_text);
            return Ok(partial_exit(&ps.gaps));
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
        Cmd::Bt {
            args,
            pids,
            all,
            active,
        } => {
            let s = open(&args)?;
            let sel = bt::Selection { pids, all, active };
            let (rows, gaps) =
                bt::bt(&s.kernel, &sel).map_err(|e| Report::new(ReadFailed(e.to_string())))?;
            match args.format {
                Format::Json => println!("{}", bt::bt_json(&rows, &report::gap_rows(&gaps))),
                Format::Text => print!("{}", bt::bt_text(&rows)),
            }
            return Ok(partial_exit(&gaps));
        }
        Cmd::Locks { args, dot } => {
            let s = open(&args)?;
            let (rep, _, gaps) = vmtriage_cli::locks::locks(&s.kernel)
                .map_err(|e| Report::new(ReadFailed(e.to_string())))?;
            if dot {
                print!("{}", vmtriage_cli::locks::locks_dot(&rep));
            } else {
                emit(args.format, &rep, vmtriage_cli::locks::locks_text);
            }
            return Ok(partial_exit(&gaps));
        }
        Cmd::Kmem(args) => {
            let s = open(&args)?;
            let rep = vmtriage_cli::kmem::kmem(&s.kernel)
                .map_err(|e| Report::new(ReadFailed(e.to_string())))?;
            emit(args.format, &rep, vmtriage_cli::kmem::kmem_text);
        }
        Cmd::Runq(args) => {
            let s = open(&args)?;
            let (rep, gaps) = vmtriage_cli::runq::runq(&s.kernel)
                .map_err(|e| Report::new(ReadFailed(e.to_string())))?;
            emit(args.format, &rep, vmtriage_cli::runq::runq_text);
            return Ok(partial_exit(&gaps));
        }
        Cmd::Rcu(args) => {
            let s = open(&args)?;
            let rep = vmtriage_cli::rcu::rcu(&s.kernel)
                .map_err(|e| Report::new(ReadFailed(e.to_string())))?;
            emit(args.format, &rep, vmtriage_cli::rcu::rcu_text);
        }
        Cmd::Workqueues(args) => {
            let s = open(&args)?;
            let (rep, gaps) = vmtriage_cli::workqueue::workqueues(&s.kernel)
                .map_err(|e| Report::new(ReadFailed(e.to_string())))?;
            emit(args.format, &rep, vmtriage_cli::workqueue::workqueues_text);
            return Ok(partial_exit(&gaps));
        }
        Cmd::Vtop { args, addr } => {
            let s = open(&args)?;
            let a = parse_addr(&addr)?;
            let (steps, end) = s.kernel.vtop(a);
            let rep = vmtriage_cli::kmem::VtopReport::new(a, &steps, end);
            emit(args.format, &rep, vmtriage_cli::kmem::vtop_text);
        }
        Cmd::Scan(a) => return bulk::run_scan(*a),
        Cmd::Report(a) => return bulk::run_report(a),
        Cmd::Db {
            cmd: DbCmd::Merge(a),
        } => return bulk::run_merge(a),
        Cmd::Query { args, expr } => {
            let s = open(&args)?;
            let v = vmtriage_cli::scan::query(&s.kernel, &expr).map_err(|e| {
                miette::miette!(
                    code = "vmtriage::query",
                    help = "see `vmtriage schema` for the roots and fields",
                    "{e}"
                )
            })?;
            // Text and JSON alike: the value's JSON, indented.
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Cmd::Schema { format } => match format {
            Format::Text => print!("{}", vmtriage_rules::schema::render()),
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&vmtriage_rules::schema::to_json())
                    .unwrap_or_default()
            ),
        },
        Cmd::Rules { cmd } => return run_rules(cmd),
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Through `print!`, so that a closed pipe ends it as any output.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "vmtriage", &mut script);
            print!("{}", String::from_utf8_lossy(&script));
        }
        Cmd::Man { dir } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            std::fs::create_dir_all(&dir)
                .and_then(|_| clap_mangen::generate_to(cmd, &dir))
                .map_err(|e| {
                    miette::miette!(
                        help = "pass a directory you can write to",
                        "cannot write man pages into {}: {e}",
                        dir.display()
                    )
                })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `vmtriage rules …`
fn run_rules(cmd: RulesCmd) -> Result<ExitCode, Report> {
    match cmd {
        RulesCmd::Check { dir, format } => {
            let (pack, diags) = load_pack(dir.as_deref())?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::Value::Array(diags.iter().map(|d| d.to_json()).collect())
                ),
                Format::Text => {
                    for d in &diags {
                        eprintln!("{:?}", Report::new(d.clone()));
                    }
                    eprintln!(
                        "{} rule(s) passed the checks, {} error(s)",
                        pack.rules.len(),
                        diags.len()
                    );
                }
            }
            if !diags.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        RulesCmd::List { rules } => {
            print!("{}", scan::rules_list(&clean_pack(rules.as_deref())?))
        }
        RulesCmd::Show { id, rules } => {
            let pack = clean_pack(rules.as_deref())?;
            let r = pack.get(&id).ok_or_else(|| {
                miette::miette!(
                    code = "vmtriage::rules",
                    help = "`vmtriage rules list` shows the ids",
                    "no rule {id}"
                )
            })?;
            print!("{}", scan::rule_article(r));
        }
        RulesCmd::Export { html, rules } => {
            let pack = clean_pack(rules.as_deref())?;
            let n = vmtriage_cli::export::export_html(&pack, &html).map_err(|e| {
                miette::miette!(
                    code = "vmtriage::export",
                    help = "choose a writable directory",
                    "cannot write {}: {e}",
                    html.display()
                )
            })?;
            eprintln!("wrote {n} pages to {}", html.display());
        }
        RulesCmd::Test { rules, manifest } => {
            let pack = clean_pack(rules.as_deref())?;
            let m = manifest.unwrap_or_else(manifest_path);
            let rows = scan::rules_test(&pack, &m, |d, v| {
                Session::open(d, Some(v), &[])
                    .map(|s| s.kernel)
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| {
                miette::miette!(
                    code = "vmtriage::corpus",
                    help = "build the corpus: corpus/build",
                    "{e}"
                )
            })?;
            let (table, ok) = scan::test_table(&rows);
            print!("{table}");
            if !ok {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
