//! Checks against the real Debian debug vmlinux files of the corpus
//! (`$VMTRIAGE_CORPUS/kernels/RELEASE/vmlinux`), which they require.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use kdebuginfo::btf::BtfKind;
use kdebuginfo::{KernelDebugInfo, TypeKind};

mod common;

/// (release, the kernel's directory) for every corpus kernel.
fn kernels() -> Vec<(String, PathBuf)> {
    common::corpus_vmlinuxes()
        .into_iter()
        .filter_map(|v| {
            let dir = v.parent()?.to_path_buf();
            Some((dir.file_name()?.to_string_lossy().into_owned(), dir))
        })
        .collect()
}

fn major_minor(release: &str) -> (u32, u32) {
    let mut it = release.split(['.', '-']).map(|s| s.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[test]
fn real_kernels() {
    for (release, dir) in kernels() {
        eprintln!("== {release}");
        let k = KernelDebugInfo::open(dir.join("vmlinux")).unwrap();
        check_elf(&k, &release, &dir);
        check_types(&k, &release);
        check_against_btf(&k, &release);
    }
}

fn check_elf(k: &KernelDebugInfo, release: &str, dir: &std::path::Path) {
    assert_eq!(
        k.build_id().map(|b| b.len()),
        Some(20),
        "{release}: build-id"
    );
    k.check_build_id(&k.build_id_hex().unwrap()).unwrap();
    assert!(k.has_dwarf());
    assert_eq!(k.release().as_deref(), Some(release));
    for s in [".orc_unwind_ip", ".orc_unwind", ".BTF", ".data..percpu"] {
        let sec = k
            .section(s)
            .unwrap_or_else(|| panic!("{release}: {s} missing"));
        assert!(!sec.data.is_empty(), "{release}: {s} empty");
    }
    let ip = k.section(".orc_unwind_ip").unwrap();
    assert_ne!(ip.addr, 0);

    // Symbols against System.map.
    let t = Instant::now();
    let syms = k.symbols().unwrap();
    eprintln!("   symbols: {} in {:?}", syms.len(), t.elapsed());
    let map = std::fs::read_to_string(dir.join("System.map")).unwrap();
    let mut by_name: HashMap<&str, Vec<u64>> = HashMap::new();
    for line in map.lines() {
        let mut f = line.split_whitespace();
        let (Some(a), Some(ty), Some(n)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if !matches!(
            ty,
            "T" | "t" | "D" | "d" | "B" | "b" | "R" | "r" | "V" | "v" | "W" | "w"
        ) {
            continue;
        }
        by_name
            .entry(n)
            .or_default()
            .push(u64::from_str_radix(a, 16).unwrap());
    }
    let mut checked = 0;
    for (n, addrs) in by_name.iter() {
        if let Some(s) = syms.lookup(n) {
            assert!(
                addrs.contains(&s.addr),
                "{release}: {n} at {:#x}, System.map {addrs:x?}",
                s.addr
            );
            checked += 1;
        }
    }
    assert!(
        checked > 50_000,
        "{release}: only {checked} symbols matched System.map"
    );
    let sk = syms.lookup("start_kernel").unwrap();
    let so = syms.symbolize(sk.addr + 5).unwrap();
    assert_eq!((so.symbol.name, so.offset), ("start_kernel", 5));
    let t = Instant::now();
    for i in 0..100_000u64 {
        let _ = syms.symbolize(sk.addr.wrapping_add(i * 4096));
    }
    eprintln!("   symbolize: {:?} per lookup", t.elapsed() / 100_000);
}

fn check_types(k: &KernelDebugInfo, release: &str) {
    let stats = k.index_stats().unwrap();
    eprintln!(
        "   index: {:?}, {} units, {} top-level DIEs, {} names, {} threads",
        stats.build_time, stats.units, stats.top_level_dies, stats.names, stats.threads
    );
    let t = Instant::now();
    let task = k.find_type("struct task_struct").unwrap();
    let comm = k.member_path(task, "comm").unwrap();
    eprintln!("   first task_struct lookup + layout: {:?}", t.elapsed());
    assert_eq!(k.type_name(comm.ty), "char [16]");
    assert_eq!(k.sizeof(comm.ty).unwrap(), 16);
    assert_eq!(
        k.type_name(k.member_path(task, "mm").unwrap().ty),
        "struct mm_struct *"
    );
    assert_eq!(k.type_name(k.member_path(task, "pid").unwrap().ty), "pid_t");
    assert_eq!(
        k.type_name(k.member_path(task, "tasks").unwrap().ty),
        "struct list_head"
    );
    assert_eq!(k.find_type("task_struct").unwrap(), task);

    let (maj, min) = major_minor(release);
    let has_state = k.member_path(task, "state").is_ok();
    let has_dunder = k.member_path(task, "__state").is_ok();
    if (maj, min) >= (5, 14) {
        assert!(has_dunder && !has_state, "{release}: expected __state");
    } else {
        assert!(has_state && !has_dunder, "{release}: expected state");
    }

    let lock = k.variable("tasklist_lock").unwrap();
    assert_eq!(k.type_name(lock.ty), "rwlock_t");
    assert_eq!(lock.address, k.symbol("tasklist_lock").map(|s| s.addr));
    // A qrwlock (8 bytes), or on PREEMPT_RT an rwbase_rt with its rtmutex.
    if release.contains("-rt-") {
        assert!(k.member_path(lock.ty, "rwbase.rtmutex.owner").is_ok());
        assert!(k.sizeof(lock.ty).unwrap() > 8);
    } else {
        assert!(k.member_path(lock.ty, "raw_lock.cnts").is_ok());
        assert_eq!(k.sizeof(lock.ty).unwrap(), 8);
    }

    let init = k.variable("init_task").unwrap();
    assert_eq!(k.type_name(init.ty), "struct task_struct");
    // A per-CPU variable: its DWARF address is the offset in .data..percpu.
    let rq = k.variable("runqueues").unwrap();
    assert_eq!(k.type_name(rq.ty), "struct rq");
    assert_eq!(rq.address, k.symbol("runqueues").map(|s| s.addr));

    assert_eq!(
        k.enumerator_value("enum pid_type", "PIDTYPE_TGID").unwrap(),
        1
    );
    assert_eq!(
        k.type_name(k.find_type("unsigned long").unwrap()),
        "long unsigned int"
    );
    let list = k.find_type("struct list_head").unwrap();
    assert_eq!(k.sizeof(list).unwrap(), 16);
    assert_eq!(k.member_path(list, "prev").unwrap().offset, 8);

    // Nested paths through anonymous unions and arrays.
    let page = k.find_type("struct page").unwrap();
    assert_eq!(k.sizeof(page).unwrap(), 64);
    assert_eq!(k.member_path(page, "flags").unwrap().offset, 0);
    assert!(
        k.member_path(page, "lru").is_ok(),
        "{release}: page.lru through anonymous union"
    );
    assert!(
        k.member_path(task, "signal.nr_threads").is_err(),
        "pointer not followed"
    );
    let sig = k.find_type("struct signal_struct").unwrap();
    assert!(k.member_path(sig, "nr_threads").is_ok());
    let pids = k.member_path(task, "thread_pid").unwrap();
    assert_eq!(k.type_name(pids.ty), "struct pid *");

    let t = Instant::now();
    for _ in 0..1000 {
        let id = k.find_type("struct task_struct").unwrap();
        let _ = k.member_path(id, "comm").unwrap();
    }
    eprintln!(
        "   cached find_type + member_path: {:?}",
        t.elapsed() / 1000
    );
}

/// Every named struct/union in BTF: same size and same member bit offsets
/// and bitfield sizes in our DWARF view.
fn check_against_btf(k: &KernelDebugInfo, release: &str) {
    let t = Instant::now();
    let btf = k.btf().expect("BTF");
    eprintln!("   BTF parse: {:?} ({} types)", t.elapsed(), btf.len());
    let t = Instant::now();
    let (mut same, mut differ, mut missing) = (0, Vec::new(), 0);
    for id in btf.ids() {
        let kw = match btf.kind(id) {
            Some(BtfKind::Struct) => "struct",
            Some(BtfKind::Union) => "union",
            _ => continue,
        };
        let name = btf.name(id).unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        let Ok(did) = k.find_type(&format!("{kw} {name}")) else {
            missing += 1;
            continue;
        };
        let dt = k.type_of(did).unwrap();
        let (TypeKind::Struct { size, members, .. } | TypeKind::Union { size, members, .. }) =
            &dt.kind
        else {
            panic!("{release}: {kw} {name} is {:?}", dt.kind);
        };
        let bm = btf.members(id);
        let ok = u64::from(btf.size(id).unwrap()) == *size
            && bm.len() == members.len()
            && bm.iter().zip(members).all(|(b, d)| {
                let dbits = d.offset * 8 + d.bit_offset.unwrap_or(0);
                b.name == d.name.clone().unwrap_or_default()
                    && b.bit_offset == dbits
                    && b.bitfield_size.map(u64::from) == d.bit_size
            });
        if ok {
            same += 1;
        } else {
            differ.push(format!("{kw} {name}"));
        }
    }
    eprintln!(
        "   BTF vs DWARF: {same} structs/unions identical, {} differ, {missing} not in DWARF index ({:?})",
        differ.len(),
        t.elapsed()
    );
    if !differ.is_empty() {
        eprintln!(
            "   differ (first 10): {:?}",
            &differ[..differ.len().min(10)]
        );
    }
    assert!(same > 5000, "{release}: too few structs compared");
    // Same-named but different structs in different files exist; BTF and we
    // may pick different ones. They must stay rare.
    assert!(
        differ.len() * 100 < same,
        "{release}: {} differ",
        differ.len()
    );

    // task_struct offsets independently from BTF.
    let bt = btf.find("struct task_struct").unwrap();
    let task = k.find_type("struct task_struct").unwrap();
    for path in [
        "pid",
        "tgid",
        "comm",
        "mm",
        "tasks",
        "real_parent",
        "thread_pid",
        "signal",
        "se.vruntime",
        "thread.sp",
    ] {
        let d = k.member_path(task, path).unwrap();
        let b = btf
            .member_bit_offset(bt, path)
            .unwrap_or_else(|| panic!("BTF {path}"));
        assert_eq!(d.offset * 8, b, "{release}: offsetof(task_struct, {path})");
    }
}
