//! Every corpus dump read with nothing but the dump (`--debuginfo none`:
//! kallsyms, BTF and ORC from the dump's memory) against the same dump read
//! with its debug vmlinux, which `corpus.rs` checks against drgn's reading:
//! `ps`, `info` and `dmesg` equal (and the truth's task set and log);
//! stacks: the same frames (pc by pc, non-inline frames) for at least 99 %
//! of tasks, and how many name each frame as DWARF does; the rule pack:
//! each rule's (rule, fingerprint) findings equal, or a `needs debuginfo`
//! error for that rule. One test per dump; each prints a `NODEBUG` line
//! with its figures (`--nocapture`), which `bench/nodebuginfo.sh` sums.

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
        for (name, _) in kdebuginfo::GLOBALS {
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

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, common::per_dump_trials("nodebug", check_dump)).exit();
}
