//! Every task's kernel stack as JSON, the way `vmtriage bt --all --format
//! json` prints it (for benchmarks while the subcommand is not wired):
//!
//!     cargo run --release -p kunwind --example bt -- DUMP VMLINUX > out.json

use std::fmt::Write as _;
use std::sync::Arc;

use kdebuginfo::KernelDebugInfo;
use kmodel::Kernel;
use kunwind::Unwinder;
use vmcore::Vmcore;

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn opt<T>(v: &Option<T>, f: impl Fn(&T) -> String) -> String {
    v.as_ref().map(f).unwrap_or_else(|| "null".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: bt DUMP VMLINUX");
        std::process::exit(2);
    }
    let timing = std::env::var_os("KUNWIND_TIMING").is_some();
    let t0 = std::time::Instant::now();
    let lap = |what: &str| {
        if timing {
            eprintln!("{:8.3} s  {what}", t0.elapsed().as_secs_f64());
        }
    };
    let dump = Arc::new(Vmcore::open(args[1].as_ref())?);
    let debug = Arc::new(KernelDebugInfo::open(&args[2])?);
    let k = Kernel::open(dump, debug)?;
    lap("opened");
    let u = Unwinder::new(&k)?;
    let tasks = k.tasks()?;
    lap("tasks listed");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2);
    let chunk = tasks.len().div_ceil(threads).max(1);
    let parts: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = tasks
            .chunks(chunk)
            .map(|part| {
                let (k, u) = (&k, &u);
                s.spawn(move || {
                    let mut out = String::new();
                    for t in part {
                        let tr = u.stack(k, t);
                        let frames: Vec<String> = tr
                            .frames
                            .iter()
                            .map(|f| {
                                format!(
                                    "{{\"function\":{},\"pc\":\"{:#x}\",\"sp\":\"{:#x}\",\"inline\":{},\"file\":{},\"line\":{},\"module\":{}}}",
                                    opt(&f.function, |s| json_str(s)),
                                    f.pc,
                                    f.sp,
                                    f.inline,
                                    opt(&f.file, |s| json_str(s)),
                                    opt(&f.line, |l| l.to_string()),
                                    opt(&f.module, |s| json_str(s)),
                                )
                            })
                            .collect();
                        if !out.is_empty() {
                            out.push(',');
                        }
                        let _ = write!(
                            out,
                            "{{\"pid\":{},\"frames\":[{}],\"error\":{}}}",
                            t.pid,
                            frames.join(","),
                            opt(&tr.error, |s| json_str(s))
                        );
                    }
                    out
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    lap("unwound");
    let body: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    println!("[{}]", body.join(","));
    Ok(())
}
