//! The corpus's debug vmlinux files, for the checks on real kernels. The
//! corpus is required (the README's test command builds it first).

use std::path::PathBuf;

/// Every corpus kernel's debug vmlinux
/// (`$VMTRIAGE_CORPUS/kernels/RELEASE/vmlinux`), sorted by release.
pub fn corpus_vmlinuxes() -> Vec<PathBuf> {
    let dir = std::env::var_os("VMTRIAGE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/vmtriage-corpus")
        });
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir.join("kernels"))
        .expect("the corpus kernels (corpus/build)")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("vmlinux"))
        .filter(|p| p.is_file())
        .collect();
    all.sort();
    assert!(
        !all.is_empty(),
        "a debug vmlinux in the corpus (corpus/build)"
    );
    all
}
