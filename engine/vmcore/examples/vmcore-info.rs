//! Prints what the reader sees in crash dumps, and compares dumps of the same
//! crash page by page.
//!
//! ```text
//! cargo run -p vmcore --example vmcore-info -- DUMP...
//! cargo run -p vmcore --example vmcore-info -- --compare REFERENCE OTHER...
//! ```
//! With `--compare`, every page present in REFERENCE (usually the ELF twin) is
//! read from each OTHER dump and compared.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use vmcore::{ReadError, Vmcore};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn info(path: &str) -> Result<Vmcore, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let core = Vmcore::open(Path::new(path))?;
    println!("{path}");
    println!("  opened in      {:?}", t.elapsed());
    println!("  format         {:?}", core.format());
    println!("  arch           {:?}", core.arch());
    println!("  page size      {}", core.page_size());
    if let Some(vi) = core.vmcoreinfo() {
        println!("  OSRELEASE      {}", vi.osrelease().unwrap_or("?"));
        println!(
            "  BUILD-ID       {}",
            vi.build_id().map_or("?".into(), |b| hex(&b))
        );
        println!("  KERNELOFFSET   {:x?}", vi.kernel_offset());
    } else {
        println!("  no VMCOREINFO");
    }
    println!("  phys_base      {:x?}", core.phys_base());
    let pr = core.prstatus();
    println!("  PRSTATUS       {} notes", pr.len());
    for (cpu, p) in pr.iter().enumerate() {
        let (rip, rsp) = p.x86_64.map_or((0, 0), |r| (r.rip, r.rsp));
        println!("    cpu {cpu}: pid {} rip {rip:#x} rsp {rsp:#x}", p.pid);
    }
    for (cpu, q) in core.qemu_cpu_states().iter().enumerate() {
        println!("    qemu cpu {cpu}: rip {:#x} cr3 {:#x}", q.rip, q.cr3());
    }
    if let Some(h) = core.kdump_header() {
        println!(
            "  kdump          version {} release {} machine {} nr_cpus {} current_cpu {} \
             dump_level {:?} max_mapnr {} status {:#x}",
            h.header_version,
            h.utsname.release,
            h.utsname.machine,
            h.nr_cpus,
            h.current_cpu,
            h.dump_level,
            h.max_mapnr,
            h.status
        );
    }
    let ranges = core.phys_ranges();
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    println!(
        "  phys ranges    {} ranges, {} MiB",
        ranges.len(),
        total >> 20
    );
    for r in ranges.iter().take(6) {
        println!("    {:#x}..{:#x}", r.start, r.end);
    }
    Ok(core)
}

fn compare(reference: &Vmcore, other: &Vmcore, name: &str) -> bool {
    let ps = reference.page_size();
    let mut a = vec![0u8; ps as usize];
    let mut b = vec![0u8; ps as usize];
    let (mut same, mut differ, mut excluded, mut missing, mut other_err) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let t = Instant::now();
    for r in reference.phys_ranges() {
        let mut addr = r.start.next_multiple_of(ps);
        while addr + ps <= r.end {
            if reference.read_phys(addr, &mut a).is_ok() {
                match other.read_phys(addr, &mut b) {
                    Ok(()) if a == b => same += 1,
                    Ok(()) => {
                        if differ < 5 {
                            println!("    differs at {addr:#x}");
                        }
                        differ += 1
                    }
                    Err(ReadError::Excluded { .. }) => excluded += 1,
                    Err(ReadError::NotInDump { .. }) => missing += 1,
                    Err(e) => {
                        if other_err < 5 {
                            println!("    error: {e}");
                        }
                        other_err += 1
                    }
                }
            }
            addr += ps;
        }
    }
    println!(
        "  {name}: {same} pages equal, {differ} differ, {excluded} excluded, {missing} not in dump, \
         {other_err} other errors ({:?})",
        t.elapsed()
    );
    differ == 0 && other_err == 0
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (do_compare, paths) = match args.first().map(String::as_str) {
        Some("--compare") => (true, &args[1..]),
        _ => (false, &args[..]),
    };
    if paths.is_empty() {
        eprintln!("usage: vmcore-info [--compare REFERENCE] DUMP...");
        return ExitCode::from(2);
    }
    let mut ok = true;
    let mut cores = Vec::new();
    for p in paths {
        match info(p) {
            Ok(c) => cores.push((p.clone(), c)),
            Err(e) => {
                eprintln!("{p}: error: {e}");
                ok = false;
            }
        }
    }
    if do_compare && cores.len() > 1 {
        println!("comparison against {}", cores[0].0);
        for (name, c) in &cores[1..] {
            ok &= compare(&cores[0].1, c, name);
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
