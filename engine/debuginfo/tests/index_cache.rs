//! The name index: filled lazily (a lookup scans only the units it needs,
//! and answers as the complete index would), persisted per build-id (a
//! second open resumes from it, gives the same answers), and a damaged
//! cache is rebuilt.

use std::path::PathBuf;

use kdebuginfo::KernelDebugInfo;

mod common;
use common::corpus_vmlinuxes;

fn vmlinux() -> PathBuf {
    corpus_vmlinuxes().remove(0)
}

const NAMES: &[&str] = &[
    "struct task_struct",
    "struct mm_struct",
    "rwlock_t",
    "struct rq",
    "enum zone_stat_item",
];

/// The tests set `VMTRIAGE_INDEX_CACHE`: one at a time.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// An empty cache directory of this name, the index cache while the guard lives.
fn fresh_cache(name: &str) -> (std::sync::MutexGuard<'static, ()>, PathBuf) {
    let guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::env::set_var("VMTRIAGE_INDEX_CACHE", &dir);
    (guard, dir)
}

#[test]
fn cached_index_gives_the_same_answers_and_survives_damage() {
    let (_guard, dir) = fresh_cache("index-cache");
    let path = vmlinux();

    let built = KernelDebugInfo::open(&path).unwrap();
    let want: Vec<_> = NAMES.iter().map(|n| built.find_type(n).unwrap()).collect();
    let var = built.variable_type("tasklist_lock").unwrap();
    assert!(
        built.index_stats().unwrap().units > 0,
        "the first open scans DWARF"
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "idx"))
        .collect();
    assert_eq!(files.len(), 1, "one index file per build-id");
    let file = files[0].path();

    let loaded = KernelDebugInfo::open(&path).unwrap();
    assert_eq!(
        loaded.index_stats().unwrap().units,
        0,
        "the second open loads the cache"
    );
    let got: Vec<_> = NAMES.iter().map(|n| loaded.find_type(n).unwrap()).collect();
    assert_eq!(got, want);
    assert_eq!(loaded.variable_type("tasklist_lock").unwrap(), var);

    // A damaged cache (cut short) is ignored and rewritten.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let rebuilt = KernelDebugInfo::open(&path).unwrap();
    assert!(
        rebuilt.index_stats().unwrap().units > 0,
        "a damaged cache is not used"
    );
    assert_eq!(
        NAMES
            .iter()
            .map(|n| rebuilt.find_type(n).unwrap())
            .collect::<Vec<_>>(),
        want
    );
    let reread = KernelDebugInfo::open(&path).unwrap();
    let p = reread.index_progress().unwrap();
    assert_eq!(p.loaded_units, p.total_units, "and is rewritten whole");
    drop((reread, rebuilt, loaded, built));

    // One byte changed inside a record (the length still right): the
    // checksum refuses it rather than answering from a damaged record.
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();
    let flipped = KernelDebugInfo::open(&path).unwrap();
    assert_eq!(flipped.index_progress().unwrap().loaded_units, 0);
    assert_eq!(flipped.find_type("struct task_struct").unwrap(), want[0]);
}

#[test]
fn lookups_scan_only_what_they_need_and_the_next_process_resumes() {
    let (_guard, _dir) = fresh_cache("index-cache-lazy");
    let path = vmlinux();

    let first = KernelDebugInfo::open(&path).unwrap();
    let task = first.find_type("struct task_struct").unwrap();
    let p = first.index_progress().unwrap();
    assert!(
        p.units > 0 && p.units < p.total_units / 4,
        "task_struct is defined in the first units: {p:?}"
    );
    let var = first.variable("tasklist_lock").unwrap();
    assert_eq!(
        first.index_progress().unwrap().units,
        p.units,
        "a global variable is found through its symbol, not by scanning further"
    );
    drop(first); // persists what it scanned

    let second = KernelDebugInfo::open(&path).unwrap();
    assert_eq!(
        second.index_progress().unwrap().variables,
        1,
        "where tasklist_lock was found is kept too"
    );
    assert_eq!(second.find_type("struct task_struct").unwrap(), task);
    assert_eq!(second.variable("tasklist_lock").unwrap().ty, var.ty);
    let q = second.index_progress().unwrap();
    assert_eq!(
        (q.loaded_units, q.units),
        (p.units, 0),
        "the second process resumes where the first stopped"
    );
}

/// Names of every kind, sampled across BTF and the symbol table.
fn sample_names(k: &KernelDebugInfo) -> (Vec<String>, Vec<String>) {
    use kdebuginfo::btf::BtfKind;
    let btf = k.btf().expect("the corpus kernels have BTF");
    let mut types = vec![
        "unsigned int".to_string(),
        "task_struct".into(),
        "no_such_type_t".into(),
    ];
    // Every name BTF defines more than once (file-local structs that reuse
    // a name): where "the definition most units use" matters.
    let mut seen = std::collections::HashMap::new();
    for id in btf.ids() {
        if let (Some(BtfKind::Struct | BtfKind::Union | BtfKind::Enum), Some(n)) =
            (btf.kind(id), btf.name(id))
        {
            *seen
                .entry(format!("{:?} {n}", btf.kind(id).unwrap()))
                .or_insert(0) += 1;
        }
    }
    for (k, n) in seen {
        if n > 1 && !k.ends_with(' ') {
            let (kind, name) = k.split_once(' ').unwrap();
            types.push(format!("{} {name}", kind.to_lowercase()));
        }
    }
    for id in btf.ids().step_by(11) {
        let prefix = match btf.kind(id) {
            Some(BtfKind::Struct) => "struct ",
            Some(BtfKind::Union) => "union ",
            Some(BtfKind::Enum) => "enum ",
            Some(BtfKind::Typedef | BtfKind::Int) => "",
            Some(BtfKind::Fwd) => "struct ",
            _ => continue,
        };
        match btf.name(id) {
            Some(n) if !n.is_empty() => types.push(format!("{prefix}{n}")),
            _ => {}
        }
    }
    let syms = k.symbols().unwrap();
    let mut vars: Vec<String> = syms
        .iter()
        .filter(|s| s.kind == kdebuginfo::SymbolKind::Object)
        .step_by(97)
        .map(|s| s.name.to_string())
        .collect();
    vars.extend(["jiffies", "init_task", "no_such_variable"].map(String::from));
    (types, vars)
}

#[test]
fn lazy_answers_equal_complete_index_answers() {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("VMTRIAGE_INDEX_CACHE", "off");
    for path in corpus_vmlinuxes() {
        lazy_equals_complete(&path);
    }
}

fn lazy_equals_complete(path: &std::path::Path) {
    let complete = KernelDebugInfo::open(path).unwrap();
    complete.index_stats().unwrap();
    let (types, vars) = sample_names(&complete);
    assert!(
        types.len() > 500 && vars.len() > 200,
        "{}: {} types, {} variables",
        path.display(),
        types.len(),
        vars.len()
    );
    let lazy = KernelDebugInfo::open(path).unwrap();
    for t in &types {
        assert_eq!(
            lazy.find_type(t).ok(),
            complete.find_type(t).ok(),
            "{}: type {t}: a partly scanned index answers as the complete one",
            path.display()
        );
    }
    for v in &vars {
        let pick =
            |k: &KernelDebugInfo| k.variable(v).ok().map(|v| (v.ty, v.address, v.declaration));
        assert_eq!(
            pick(&lazy),
            pick(&complete),
            "{}: variable {v}",
            path.display()
        );
    }
}

#[test]
fn concurrent_opens_agree() {
    let (_guard, _dir) = fresh_cache("index-cache-concurrent");
    let path = vmlinux();
    let answers: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let k = KernelDebugInfo::open(&path).unwrap();
                    NAMES
                        .iter()
                        .map(|n| k.find_type(n).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers[0], answers[1]);
    // Whichever wrote last, the file is whole and usable.
    let k = KernelDebugInfo::open(&path).unwrap();
    assert!(k.index_progress().unwrap().loaded_units > 0);
}

/// Runs `f` on another thread; fails the test if it takes longer than
/// `secs` (a blocking open would otherwise hang the test, not fail it).
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what}: not done within {secs} s"))
}

fn mkfifo(p: &std::path::Path) {
    let _ = std::fs::remove_file(p);
    let st = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
}

/// The cache file is a FIFO, or a link to /dev/zero (issue #31: the open
/// blocked forever; /dev/zero was read for 14 s to 4.2 GB): it is passed
/// over as no cache, the answers are the same, and the index written
/// afterwards replaces it with a regular file rather than writing into it.
#[test]
fn a_fifo_or_a_device_as_the_cache_file_is_passed_over() {
    let (_guard, dir) = fresh_cache("index-cache-fifo");
    let path = vmlinux();
    let want = {
        let k = KernelDebugInfo::open(&path).unwrap();
        let t = k.find_type("struct task_struct").unwrap();
        std::mem::forget(k); // not persisted: the cache stays empty
        t
    };
    let id = KernelDebugInfo::open(&path)
        .unwrap()
        .build_id_hex()
        .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{id}.idx"));
    for kind in ["fifo", "/dev/zero"] {
        let _ = std::fs::remove_file(&file);
        if kind == "fifo" {
            mkfifo(&file);
        } else {
            std::os::unix::fs::symlink(kind, &file).unwrap();
        }
        let p = path.clone();
        let start = std::time::Instant::now();
        let got = within(60, kind, move || {
            let k = KernelDebugInfo::open(&p).unwrap();
            let t = k.find_type("struct task_struct").unwrap();
            (t, k.index_progress().unwrap().loaded_units)
        });
        assert_eq!(got, (want, 0), "{kind}: the same answer, nothing loaded");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{kind}: {:?}",
            start.elapsed()
        );
        let meta = std::fs::symlink_metadata(&file).unwrap();
        assert!(
            meta.file_type().is_file(),
            "{kind}: the index written replaces it: {:?}",
            meta.file_type()
        );
    }
}

/// `VMTRIAGE_INDEX_CACHE=OFF` (issue #31: it made a directory `./OFF`)
/// and the other ways of saying no disable the cache.
#[test]
fn off_in_any_spelling_disables_the_cache() {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let cwd = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("index-cache-off-cwd");
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).unwrap();
    let old = std::env::current_dir().unwrap();
    std::env::set_current_dir(&cwd).unwrap();
    let path = vmlinux();
    for v in ["OFF", "off", "Off", "0", "no", "false", "none", ""] {
        std::env::set_var("VMTRIAGE_INDEX_CACHE", v);
        let k = KernelDebugInfo::open(&path).unwrap();
        k.find_type("struct task_struct").unwrap();
        drop(k);
        let made: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
        assert!(made.is_empty(), "VMTRIAGE_INDEX_CACHE={v:?} made {made:?}");
    }
    std::env::set_current_dir(old).unwrap();
}

/// A copy of the vmlinux with the same build-id, size and modification
/// time but a damaged `.debug_abbrev` (issue #31: one run with it stored an
/// index that made every later run with the intact file fail, "variable
/// init_task not found"). The damaged run stores nothing; an intact run's
/// index is not taken by a damaged copy; the intact file answers as with a
/// fresh cache.
#[test]
fn a_damaged_copy_does_not_poison_the_cache() {
    use std::io::{Seek, SeekFrom, Write};
    let (_guard, dir) = fresh_cache("index-cache-poison");
    let path = vmlinux();
    let damaged = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vmlinux-damaged-abbrev");
    let _ = std::fs::remove_file(&damaged);
    std::fs::copy(&path, &damaged).unwrap();
    let intact = KernelDebugInfo::open(&path).unwrap();
    let abbrev = intact
        .sections()
        .iter()
        .find(|s| s.name == ".debug_abbrev")
        .cloned()
        .unwrap();
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&damaged)
            .unwrap();
        f.seek(SeekFrom::Start(abbrev.file_offset)).unwrap();
        // Every abbreviation code and tag scrambled, the length unchanged.
        let junk: Vec<u8> = (0..abbrev.size).map(|i| (i * 37 + 11) as u8).collect();
        f.write_all(&junk).unwrap();
        f.set_modified(std::fs::metadata(&path).unwrap().modified().unwrap())
            .unwrap();
    }
    let answers = |k: &KernelDebugInfo| {
        (
            k.variable("init_task").ok().map(|v| (v.ty, v.address)),
            NAMES
                .iter()
                .map(|n| k.find_type(n).ok())
                .collect::<Vec<_>>(),
        )
    };
    let want = answers(&intact);
    assert!(want.0.is_some() && want.1.iter().all(Option::is_some));
    std::mem::forget(intact); // not persisted: the cache stays empty

    let bad = KernelDebugInfo::open(&damaged).unwrap();
    assert_eq!(
        bad.build_id_hex(),
        KernelDebugInfo::open(&path).unwrap().build_id_hex()
    );
    let _ = answers(&bad);
    let stats = bad.index_stats().unwrap();
    assert!(stats.damaged_units > 0, "{stats:?}");
    drop(bad);
    let idx = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "idx"))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(idx(&dir), 0, "the damaged copy's index is not kept");

    let good = KernelDebugInfo::open(&path).unwrap();
    assert_eq!(answers(&good), want);
    good.index_stats().unwrap();
    drop(good);
    assert_eq!(idx(&dir), 1, "the intact file's index is kept");

    // The intact file's index is not the damaged copy's (its .debug_abbrev
    // differs, though the build-id, size and time are the same).
    let bad = KernelDebugInfo::open(&damaged).unwrap();
    assert_eq!(bad.index_progress().unwrap().loaded_units, 0);
    drop(bad);
    let again = KernelDebugInfo::open(&path).unwrap();
    assert!(again.index_progress().unwrap().loaded_units > 0);
    assert_eq!(answers(&again), want);
    let _ = std::fs::remove_file(&damaged);
}
