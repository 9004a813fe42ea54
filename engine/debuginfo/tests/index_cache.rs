//! The name index persisted per build-id: a second open loads it instead of
//! scanning DWARF, gives the same answers, and a damaged cache is rebuilt.

use std::path::PathBuf;

use kdebuginfo::KernelDebugInfo;

fn vmlinux() -> PathBuf {
    let dir = std::env::var_os("VMTRIAGE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/vmtriage-corpus")
        });
    std::fs::read_dir(dir.join("kernels"))
        .expect("the corpus kernels (corpus/build)")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("vmlinux"))
        .find(|p| p.exists())
        .expect("a debug vmlinux in the corpus")
}

const NAMES: &[&str] = &[
    "struct task_struct",
    "struct mm_struct",
    "rwlock_t",
    "struct rq",
    "enum zone_stat_item",
];

/// Both tests set `VMTRIAGE_INDEX_CACHE`: one at a time.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn cached_index_gives_the_same_answers_and_survives_damage() {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("index-cache");
    let _ = std::fs::remove_dir_all(&dir);
    // The cache directory comes from the environment; this test owns the variable.
    std::env::set_var("VMTRIAGE_INDEX_CACHE", &dir);
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
        // Next to it: the lock that makes concurrent processes build it once.
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
    assert_eq!(
        std::fs::read(&file).unwrap().len(),
        bytes.len(),
        "and is rewritten"
    );
}

#[test]
fn concurrent_opens_build_the_index_once() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("index-cache-concurrent");
    let _ = std::fs::remove_dir_all(&dir);
    let path = vmlinux();
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("VMTRIAGE_INDEX_CACHE", &dir);
    let units: Vec<usize> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let k = KernelDebugInfo::open(&path).unwrap();
                    k.index_stats().unwrap().units
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Separate opens of the file take turns on the lock: one scans, the
    // other loads what it wrote.
    assert_eq!(
        units.iter().filter(|&&u| u > 0).count(),
        1,
        "exactly one of two concurrent opens builds the index: {units:?}"
    );
}
