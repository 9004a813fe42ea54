//! Checks against the real-dump corpus (`corpus/build`), when it exists:
//! `$VMTRIAGE_CORPUS` or `~/.cache/vmtriage-corpus`. Without it the test
//! prints a note and passes.
//!
//! For every dump in the manifest: it opens, its format, compression and
//! dump level are the manifest's, VMCOREINFO names the manifest's release,
//! there is one PRSTATUS per vCPU, and a sample of pages reads the same as
//! in the ELF twin the manifest names (`truth_from`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vmcore::{Compression, DumpFormat, ReadError, Vmcore};

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VMTRIAGE_CORPUS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/vmtriage-corpus"))
        })?;
    dir.join("manifest.json").is_file().then_some(dir)
}

/// Pages to sample per dump.
const SAMPLES: u64 = 3000;

fn compare_sample(reference: &Vmcore, other: &Vmcore, name: &str) {
    let ps = reference.page_size();
    let ranges = reference.phys_ranges();
    let total: u64 = ranges.iter().map(|r| (r.end - r.start) / ps).sum();
    let step = (total / SAMPLES).max(1);
    let (mut a, mut b) = (vec![0u8; ps as usize], vec![0u8; ps as usize]);
    let (mut equal, mut excluded, mut i) = (0u64, 0u64, 0u64);
    for r in ranges {
        let mut addr = r.start.next_multiple_of(ps);
        while addr + ps <= r.end {
            if i % step == 0 && reference.read_phys(addr, &mut a).is_ok() {
                match other.read_phys(addr, &mut b) {
                    Ok(()) => {
                        assert!(a == b, "{name}: page {addr:#x} differs from the ELF twin");
                        equal += 1;
                    }
                    Err(ReadError::Excluded { .. }) => excluded += 1,
                    Err(e) => panic!("{name}: {e}"),
                }
            }
            i += 1;
            addr += ps;
        }
    }
    eprintln!("  {name}: {equal} sampled pages equal to the twin, {excluded} excluded");
    assert!(equal > 0, "{name}: no page compared");
}

#[test]
fn corpus_dumps() {
    let Some(dir) = corpus_dir() else {
        eprintln!("no corpus (set VMTRIAGE_CORPUS or run corpus/build): skipped");
        return;
    };
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let dumps = manifest["dumps"].as_array().expect("manifest.dumps");
    let mut twins: HashMap<PathBuf, Vmcore> = HashMap::new();
    for d in dumps {
        let path = PathBuf::from(d["path"].as_str().unwrap());
        if !path.is_file() {
            eprintln!("{}: listed but missing, skipped", path.display());
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let core = Vmcore::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("{name}: {:?}", core.format());
        let want_comp = d["compression"].as_str().unwrap_or("");
        let level = d["dump_level"].as_u64();
        match (d["format"].as_str().unwrap(), core.format()) {
            ("elf", DumpFormat::Elf { flattened, .. }) => assert!(!flattened, "{name}"),
            (
                fmt @ ("kdump" | "flattened"),
                DumpFormat::Kdump {
                    compression,
                    dump_level,
                    flattened,
                    incomplete,
                },
            ) => {
                assert_eq!(flattened, fmt == "flattened", "{name}");
                assert!(!incomplete, "{name}");
                let c = match want_comp {
                    "zlib" => Compression::Zlib,
                    "lzo" => Compression::Lzo,
                    "snappy" => Compression::Snappy,
                    "zstd" => Compression::Zstd,
                    _ => Compression::None,
                };
                assert_eq!(compression, c, "{name}");
                // QEMU writes dump level 1 (zero pages); makedumpfile the -d.
                if d["capture"] == "kdump" {
                    assert_eq!(dump_level.map(u64::from), level, "{name}");
                }
            }
            (fmt, got) => panic!("{name}: manifest says {fmt}, read as {got:?}"),
        }
        let info = core
            .vmcoreinfo()
            .unwrap_or_else(|| panic!("{name}: no VMCOREINFO"));
        assert_eq!(info.osrelease(), d["release"].as_str(), "{name}");
        assert!(info.build_id().is_some_and(|b| b.len() == 20), "{name}");
        if let Some(vcpus) = d["vcpus"].as_u64() {
            assert_eq!(
                core.prstatus().len() as u64,
                vcpus,
                "{name}: PRSTATUS notes"
            );
        }
        assert!(core.prstatus().iter().all(|p| p.x86_64.is_some()), "{name}");

        let twin = path.with_file_name(d["truth_from"].as_str().unwrap());
        if twin != path && twin.is_file() {
            let reference = twins
                .entry(twin.clone())
                .or_insert_with(|| Vmcore::open(&twin).unwrap());
            compare_sample(reference, &core, &name);
        }
    }
}
