//! Every corpus dump read with nothing but the dump (`--debuginfo none`:
//! kallsyms, BTF and ORC from the dump's memory) against the same dump read
//! with its debug vmlinux, which `corpus.rs` checks against drgn's reading:
//! `ps`, `info` and `dmesg` equal (and the truth's task set and log);
//! stacks: the same frames (pc by pc, non-inline frames) for at least 99 %
//! of tasks, and how many name each frame as DWARF does; the rule pack:
//! each rule's (rule, fingerprint) findings equal, or a `needs debuginfo`
//! error for that rule. One test per dump; each prints a `NODEBUG` line
//! with its figures (`--nocapture`), which `bench/nodebuginfo.sh` sums.
//!
//! `plain/…`: every dump present in the corpus read with the vmlinuz of its
//! kernel (`kernels/RELEASE/vmlinuz`: symbols from the file's kallsyms
//! tables, its BTF and ORC) and with its vmlinux stripped of DWARF (ELF
//! symbols), against the same dump read from its memory: `ps`, `info`, every
//! task's frames (pc and function) and the rule pack's findings equal; and
//! how discovery takes the vmlinuz, refuses another build's and passes over
//! it. The dumps are the manifest's, or while the corpus is being rebuilt
//! those of each dump directory's `entries.json` whose files exist.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Entry;
use libtest_mimic::{Arguments, Failed};
use vmtriage_cli::session::DebugSource;
use vmtriage_cli::{report, scan, Session};
use vmtriage_rules::RulePack;

/// A task's non-inline frames, (pc, function) in order, and whether it was
/// unwound from a CPU's saved registers.
type Stack = (Vec<(u64, String)>, bool);

/// Every task's stack, by pid.
fn stacks(k: &kmodel::Kernel) -> Result<BTreeMap<i32, Stack>, String> {
    let u = kunwind::Unwinder::new(k).map_err(|e| e.to_string())?;
    let walk = k.task_walk().map_err(|e| e.to_string())?;
    Ok(walk
        .tasks
        .iter()
        .map(|t| {
            let st = u.stack(k, t);
            let frames = st
                .frames
                .iter()
                .filter(|f| !f.inline)
                .map(|f| (f.pc, f.function.clone().unwrap_or_default()))
                .collect();
            let cpu = matches!(st.start, Some(kunwind::Start::Cpu(_)));
            (t.pid, (frames, cpu))
        })
        .collect())
}

/// Per rule: its findings as fingerprints and as evidence without stacks,
/// or its error.
type RuleRun = BTreeMap<String, Result<(BTreeSet<String>, BTreeSet<String>), String>>;

/// A finding's canonical evidence with every stack (`f < g < h`) replaced
/// by `<stack>`: without DWARF a stack has no inline frames, and names an
/// assembler label where the debug vmlinux's symbol table names the
/// function around it, so the fingerprint over the frames differs.
fn without_stacks(text: &str) -> String {
    let w: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < w.len() {
        if w.get(i + 1) == Some(&"<") {
            let mut j = i;
            while w.get(j + 1) == Some(&"<") {
                j += 2;
            }
            let last = w.get(j).copied().unwrap_or("");
            let tail = last.trim_start_matches(|c: char| !"]};,".contains(c));
            out.push(format!("<stack>{tail}"));
            i = j + 1;
        } else {
            out.push(w[i].to_string());
            i += 1;
        }
    }
    out.join(" ")
}

fn rule_runs(pack: &RulePack, k: &kmodel::Kernel) -> RuleRun {
    let r = scan::scan_kernel(pack, k);
    let mut out: RuleRun = BTreeMap::new();
    for d in &r.diagnoses {
        let (fp, text) = vmtriage_cli::bulk::fingerprint::fingerprint(&d.rule, &d.evidence);
        if std::env::var_os("NODEBUG_SHOW").is_some() {
            println!("FP {} {fp} {text}", d.rule);
        }
        let entry = out.entry(d.rule.clone());
        if let Ok((fps, texts)) = entry.or_insert_with(|| Ok(Default::default())) {
            fps.insert(fp);
            texts.insert(without_stacks(&text));
        }
    }
    for e in &r.errors {
        if std::env::var_os("NODEBUG_SHOW").is_some() {
            println!("ERR {} {}", e.rule, e.message);
        }
        out.insert(e.rule.clone(), Err(e.message.clone()));
    }
    out
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

// Over 150 lines on purpose: one dump's comparisons in sequence, each
// adding to the problems reported together at the end.
fn check_dump(e: &Entry) -> Result<(), Failed> {
    let (t, with) = common::open_with_truth(e)?;
    let without = Session::open_with(&e.path, None, &[], DebugSource::Memory)
        .map_err(|err| format!("open without debuginfo: {err:?}"))?;
    let (kd, km) = (&with.kernel, &without.kernel);
    let mut problems = Vec::new();
    if !km.debug.is_from_memory() || km.debug.has_dwarf() {
        problems.push("the session without debuginfo is not the memory image".to_string());
    }
    // The declared globals: the size DWARF gives each (once per dump of
    // a QEMU ELF capture: one per scenario and kernel).
    if e.format == "elf" && e.capture == "qemu" {
        for &kdebuginfo::GlobalDecl { name, .. } in kmodel::GLOBALS {
            let size = |d: &kdebuginfo::KernelDebugInfo| {
                d.variable_type(name)
                    .and_then(|t| d.sizeof(t))
                    .map_err(|_| ())
            };
            let (a, b) = (size(&kd.debug), size(&km.debug));
            if a != b && a.is_ok() {
                problems.push(format!(
                    "global {name}: {a:?} bytes with DWARF, {b:?} without"
                ));
            }
        }
    }
    // ps: as with DWARF, and the truth's task set, comm and state.
    let (psd, psm) = (report::ps(kd), report::ps(km));
    match (&psd, &psm) {
        (Ok(a), Ok(b)) => {
            if json(a) != json(b) {
                problems.push("ps differs from the DWARF session's".into());
            }
            let ours: BTreeSet<(i32, &str, &str)> = b
                .tasks
                .iter()
                .map(|r| (r.pid, r.comm.as_str(), r.state.as_str()))
                .collect();
            let missing = t
                .tasks
                .iter()
                .filter(|x| !ours.contains(&(x.pid, x.comm.as_str(), x.state.as_str())))
                .count();
            if b.partial.is_empty() && missing > 0 {
                problems.push(format!("{missing} truth tasks not listed alike"));
            }
        }
        (a, b) => problems.push(format!(
            "ps: with DWARF {:?}, without {:?}",
            a.as_ref().err(),
            b.as_ref().err()
        )),
    }
    // info: every field but where the debug info came from and the title,
    // which names functions (counted apart: a stack's names may differ,
    // see `stacks`).
    let mut title_equal = false;
    match (report::info(kd), report::info(km)) {
        (Ok(a), Ok(b)) => {
            title_equal = a.title.signature == b.title.signature;
            let strip = |i: &report::Info| {
                let mut v = json(i);
                if let Some(o) = v.as_object_mut() {
                    o.remove("debuginfo");
                    o.remove("title");
                }
                v
            };
            if strip(&a) != strip(&b) {
                problems.push(format!(
                    "info differs:\n    with    {}\n    without {}",
                    strip(&a),
                    strip(&b)
                ));
            }
        }
        (a, b) => problems.push(format!(
            "info: with DWARF {:?}, without {:?}",
            a.err(),
            b.err()
        )),
    }
    // dmesg: the truth's records.
    match report::dmesg(km) {
        Ok(log) => {
            let ours: Vec<(&str, u64)> = log
                .iter()
                .map(|r| (r.text.as_str(), r.timestamp_ns))
                .collect();
            let theirs: Vec<(&str, u64)> = t
                .dmesg
                .iter()
                .map(|r| (r.text.as_str(), r.timestamp_ns))
                .collect();
            if ours != theirs {
                problems.push(format!("dmesg: {} records vs {}", ours.len(), theirs.len()));
            }
        }
        Err(err) => problems.push(format!("dmesg: {err}")),
    }
    // Stacks.
    let (sd, sm) = (stacks(kd)?, stacks(km)?);
    // Every task must unwind alike: ORC either way, but for a CPU's saved
    // registers where the debug vmlinux's DWARF CFI recovers a frame ORC
    // has no entry for (the crash path's first frame), which the unwinder
    // without DWARF resumes by scanning for the return address: tasks on a
    // CPU are counted apart.
    let (mut same_pcs, mut same_names, mut total) = (0usize, 0usize, 0usize);
    let (mut cpu_total, mut cpu_same) = (0usize, 0usize);
    let mut first_diff = None;
    for (pid, (a, on_cpu)) in &sd {
        total += 1;
        cpu_total += usize::from(*on_cpu);
        let Some((b, _)) = sm.get(pid) else { continue };
        let pcs = |s: &[(u64, String)]| s.iter().map(|f| f.0).collect::<Vec<_>>();
        if pcs(a) == pcs(b) {
            same_pcs += 1;
            cpu_same += usize::from(*on_cpu);
        } else if first_diff.is_none() {
            first_diff = Some(format!("pid {pid}: {a:x?} vs {b:x?}"));
        }
        if a == b {
            same_names += 1;
        }
    }
    if same_pcs != total {
        problems.push(format!(
            "stacks: {same_pcs} of {total} tasks unwound alike ({cpu_same} of {cpu_total} \
             on a CPU); first: {}",
            first_diff.unwrap_or_default()
        ));
    }
    // The rule pack, rule by rule.
    let (pack, _) = RulePack::embedded();
    let (rd, rm) = (rule_runs(&pack, kd), rule_runs(&pack, km));
    let (mut equal, mut same_but_stacks, mut needs, mut wrong) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rule in rd.keys().chain(rm.keys()).collect::<BTreeSet<_>>() {
        match (rd.get(rule), rm.get(rule)) {
            (a, b) if a == b => equal.push(rule.clone()),
            (Some(Ok((_, a))), Some(Ok((_, b)))) if a == b => same_but_stacks.push(rule.clone()),
            (_, Some(Err(msg))) if msg.contains("needs debuginfo") => needs.push(rule.clone()),
            (a, b) => wrong.push(format!("{rule}: with DWARF {a:?}, without {b:?}")),
        }
    }
    if !wrong.is_empty() {
        problems.push(format!("rules differ: {}", wrong.join("; ")));
    }
    println!(
        "NODEBUG {} title_equal={title_equal} tasks={total} same_pcs={same_pcs} same_names={same_names} \
         on_cpu={cpu_total} on_cpu_same_pcs={cpu_same} \
         rules_equal={} rules_equal_but_stacks={:?} rules_needs_debuginfo={:?} rules_differ={}",
        e.name(),
        equal.len(),
        same_but_stacks,
        needs,
        wrong.len()
    );
    common::verdict(e, &problems)
}

/// The corpus dumps present now: the manifest's, else (while the corpus
/// is being rebuilt) each finished dump directory's `entries.json`.
fn present_entries() -> Vec<Entry> {
    let listed = common::manifest().unwrap_or_else(|_| {
        let dirs = std::fs::read_dir(common::corpus_dir().join("dumps"))
            .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut v: Vec<Entry> = dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.join("entries.json")).ok())
            .filter_map(|t| serde_json::from_str::<Vec<Entry>>(&t).ok())
            .flatten()
            .collect();
        v.sort_by_key(|e| e.path.clone());
        v
    });
    listed.into_iter().filter(|e| e.path.is_file()).collect()
}

/// The corpus's files of a kernel release (`kernels/RELEASE/NAME`).
fn kernel_file(release: &str, name: &str) -> std::path::PathBuf {
    common::corpus_dir()
        .join("kernels")
        .join(release)
        .join(name)
}

/// A number no other call in this process gets.
fn unique() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The debug vmlinux of a release stripped of its DWARF (`objcopy
/// --strip-debug`: the non-debug vmlinux of the build, with its symbol
/// table), made once per release.
fn stripped_vmlinux(e: &Entry) -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join("vmt-plain").join(&e.release);
    let out = dir.join("vmlinux");
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir).map_err(|err| err.to_string())?;
    // Unique per call: the trials of one release run in parallel threads.
    let tmp = dir.join(format!("vmlinux.tmp{}-{}", std::process::id(), unique()));
    let st = std::process::Command::new("objcopy")
        .arg("--strip-debug")
        .arg(&e.vmlinux)
        .arg(&tmp)
        .status()
        .map_err(|err| format!("objcopy: {err}"))?;
    if !st.success() {
        return Err("objcopy --strip-debug failed".into());
    }
    std::fs::rename(&tmp, &out).map_err(|err| err.to_string())?;
    Ok(out)
}

/// What one reading gives that must not depend on the source of the
/// debug info: `ps`, `info` (but its DEBUGINFO line), every task's
/// frames, the rule pack's findings.
struct Reading {
    ps: serde_json::Value,
    info: serde_json::Value,
    stacks: BTreeMap<i32, Stack>,
    rules: RuleRun,
}

fn reading(k: &kmodel::Kernel, pack: &RulePack) -> Result<Reading, String> {
    let mut info = json(&report::info(k).map_err(|err| format!("info: {err}"))?);
    if let Some(o) = info.as_object_mut() {
        o.remove("debuginfo");
    }
    Ok(Reading {
        ps: json(&report::ps(k).map_err(|err| format!("ps: {err}"))?),
        info,
        stacks: stacks(k)?,
        rules: rule_runs(pack, k),
    })
}

/// The differences of a reading from the memory source's. `exact`: the
/// same symbols (kallsyms both), so the same function names and findings;
/// else (an ELF symbol table, which names another of the aliases at one
/// address, `__ia32_sys_pause` for `__x64_sys_pause`) the same frames pc
/// by pc and the same findings but for the functions in their stacks.
/// Gives the tasks and how many name every frame alike.
fn compare(
    what: &str,
    m: &Reading,
    f: &Reading,
    exact: bool,
    problems: &mut Vec<String>,
) -> (usize, usize) {
    if m.ps != f.ps {
        problems.push(format!("{what}: ps differs from the memory source's"));
    }
    if m.info != f.info {
        problems.push(format!(
            "{what}: info differs:\n    memory {}\n    file   {}",
            m.info, f.info
        ));
    }
    let pcs =
        |s: Option<&Stack>| s.map(|(fr, cpu)| (fr.iter().map(|x| x.0).collect::<Vec<_>>(), *cpu));
    let differ: Vec<&i32> = m
        .stacks
        .iter()
        .filter(|(pid, s)| {
            let theirs = f.stacks.get(pid);
            if exact {
                theirs != Some(s)
            } else {
                pcs(theirs) != pcs(Some(s))
            }
        })
        .map(|(pid, _)| pid)
        .collect();
    if !differ.is_empty() || m.stacks.len() != f.stacks.len() {
        let pid = differ.first().copied().copied().unwrap_or(0);
        problems.push(format!(
            "{what}: {} of {} tasks' frames differ; first, pid {pid}: memory {:x?} file {:x?}",
            differ.len(),
            m.stacks.len(),
            m.stacks.get(&pid),
            f.stacks.get(&pid)
        ));
    }
    let same_names = m
        .stacks
        .iter()
        .filter(|(pid, s)| f.stacks.get(pid) == Some(s))
        .count();
    let rules: BTreeSet<&String> = m.rules.keys().chain(f.rules.keys()).collect();
    let wrong: Vec<String> = rules
        .into_iter()
        .filter(|r| match (m.rules.get(*r), f.rules.get(*r)) {
            (a, b) if a == b => false,
            (Some(Ok((_, a))), Some(Ok((_, b)))) => exact || a != b,
            _ => true,
        })
        .map(|r| {
            format!(
                "{r}: memory {:?}, file {:?}",
                m.rules.get(r),
                f.rules.get(r)
            )
        })
        .collect();
    if !wrong.is_empty() {
        problems.push(format!("{what}: rules differ: {}", wrong.join("; ")));
    }
    (m.stacks.len(), same_names)
}

// One dump's readings in sequence, each source against the memory's.
fn check_plain(e: &Entry) -> Result<(), Failed> {
    let vmlinuz = kernel_file(&e.release, "vmlinuz");
    if !vmlinuz.is_file() {
        return Err(format!("{}: no vmlinuz in the corpus", vmlinuz.display()).into());
    }
    let (pack, _) = RulePack::embedded();
    let mut problems = Vec::new();
    let open = |v: Option<&std::path::Path>, dirs: &[std::path::PathBuf], src| {
        Session::open_with(&e.path, v, dirs, src).map_err(|err| format!("open: {err:?}"))
    };
    let mem = open(None, &[], DebugSource::Memory)?;
    let m = reading(&mem.kernel, &pack)?;
    // The vmlinuz: symbols from its kallsyms tables.
    let t0 = std::time::Instant::now();
    let z = open(Some(&vmlinuz), &[], DebugSource::Auto)?;
    let opened = t0.elapsed();
    let d = &z.kernel.debug;
    if d.has_dwarf() || d.is_from_memory() || !d.is_file_image() {
        problems.push(format!(
            "the vmlinuz session is not a file image: {}",
            d.source_description()
        ));
    }
    let (tasks, _) = compare(
        "vmlinuz",
        &m,
        &reading(&z.kernel, &pack)?,
        true,
        &mut problems,
    );
    // The vmlinux without DWARF: its own symbol table.
    let stripped = stripped_vmlinux(e)?;
    let s = open(Some(&stripped), &[], DebugSource::Auto)?;
    if s.kernel.debug.has_dwarf() || s.kernel.debug.is_file_image() {
        problems.push("the stripped vmlinux is not read as it is".into());
    }
    let r = reading(&s.kernel, &pack)?;
    let (_, symtab_same_names) = compare("stripped vmlinux", &m, &r, false, &mut problems);
    // Discovery: `--debuginfo-dir` holding only the vmlinuz is taken…
    let dir = std::env::temp_dir().join(format!(
        "vmt-plain-dirs-{}-{}",
        std::process::id(),
        unique()
    ));
    let link = |target: &std::path::Path, tag: &str| -> Result<std::path::PathBuf, String> {
        let d = dir.join(tag).join(&e.release);
        std::fs::create_dir_all(&d).map_err(|err| err.to_string())?;
        let l = d.join("vmlinuz");
        let _ = std::fs::remove_file(&l);
        std::os::unix::fs::symlink(target, &l).map_err(|err| err.to_string())?;
        Ok(d.parent().unwrap_or(&d).to_path_buf())
    };
    let found = open(None, &[link(&vmlinuz, "same")?], DebugSource::Auto)?;
    if !found.kernel.debug.is_file_image() {
        problems.push(format!(
            "--debuginfo-dir with the vmlinuz: {}",
            found.kernel.debug.source_description()
        ));
    }
    // … and another build's is refused when named, passed over when found.
    let other = std::fs::read_dir(common::corpus_dir().join("kernels"))
        .map_err(|err| err.to_string())?
        .flatten()
        .map(|d| d.path().join("vmlinuz"))
        .find(|p| p.is_file() && *p != vmlinuz);
    if let Some(other) = other {
        match Session::open_with(&e.path, Some(&other), &[], DebugSource::Auto) {
            Err(vmtriage_cli::session::OpenError::Image {
                source: kdebuginfo::Error::ImageBuildIdMismatch { .. },
                ..
            }) => {}
            Err(err) => problems.push(format!("another build's vmlinuz: {err:?}")),
            Ok(_) => problems.push("another build's vmlinuz was taken".into()),
        }
        let passed = open(None, &[link(&other, "other")?], DebugSource::Auto)?;
        if !passed.kernel.debug.is_from_memory() {
            problems.push(format!(
                "another build's vmlinuz found in --debuginfo-dir: {}",
                passed.kernel.debug.source_description()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "PLAIN {} tasks={tasks} vmlinuz_open_s={:.3} symtab_same_names={symtab_same_names} \
         problems={}",
        e.name(),
        opened.as_secs_f64(),
        problems.len()
    );
    common::verdict(e, &problems)
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = common::per_dump_trials("nodebug", check_dump);
    trials.extend(present_entries().into_iter().map(|e| {
        libtest_mimic::Trial::test(format!("plain/{}", e.name()), move || check_plain(&e))
    }));
    libtest_mimic::run(&args, trials).exit();
}
