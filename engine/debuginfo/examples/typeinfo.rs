//! Print a type's layout like pahole, plus timings of the lazy index.
//!
//! Usage: `cargo run --release -p kdebuginfo --example typeinfo -- VMLINUX TYPE...`
//! TYPE is a C type name (`struct task_struct`, `rwlock_t`) or `var:NAME`
//! for a global variable's type.

use std::time::Instant;

use kdebuginfo::{KernelDebugInfo, TypeId, TypeKind};

fn print_members(k: &KernelDebugInfo, id: TypeId, base: u64, indent: usize) {
    let Ok(sid) = k.strip_typedefs_and_cv(id) else {
        return;
    };
    let Ok(t) = k.type_of(sid) else { return };
    let pad = "\t".repeat(indent);
    for m in t.members() {
        let off = base + m.offset;
        let size = k.sizeof(m.ty).unwrap_or(0);
        match &m.name {
            None => {
                let inner = k
                    .strip_typedefs_and_cv(m.ty)
                    .ok()
                    .and_then(|i| k.type_of(i).ok());
                let kw = match inner.as_ref().map(|t| &t.kind) {
                    Some(TypeKind::Union { .. }) => "union",
                    _ => "struct",
                };
                println!("{pad}{kw} {{");
                print_members(k, m.ty, off, indent + 1);
                println!("{pad}}};{:>w$}/* {off:6} {size:6} */", "", w = 8);
            }
            Some(name) => {
                let mut decl = k.declaration(m.ty, name);
                if let Some(bits) = m.bit_size {
                    decl.push_str(&format!(":{bits}"));
                }
                let loc = match m.bit_offset {
                    Some(b) => format!("{off:6}:{b}"),
                    None => format!("{off:6}  "),
                };
                println!(
                    "{pad}{decl:<w$};  /* {loc} {size:6} */",
                    w = 56usize.saturating_sub(8 * indent)
                );
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: typeinfo VMLINUX TYPE...");
        std::process::exit(2);
    }
    let t0 = Instant::now();
    let k = match KernelDebugInfo::open(&args[0]) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "/* open: {:?}, build-id {} */",
        t0.elapsed(),
        k.build_id_hex().unwrap_or_default()
    );
    let t1 = Instant::now();
    let nsyms = k.symbols().map(|t| t.len()).unwrap_or(0);
    println!("/* symbol table: {:?} ({nsyms} symbols) */", t1.elapsed());
    let t1 = Instant::now();
    match k.index_stats() {
        Ok(s) => println!(
            "/* index: {:?} ({} units, {} top-level DIEs, {} names, {} threads) */",
            s.build_time, s.units, s.top_level_dies, s.names, s.threads
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    let _ = t1;
    if let Ok(st) = std::fs::read_to_string("/proc/self/status") {
        let pick: Vec<&str> = st
            .lines()
            .filter(|l| {
                l.starts_with("VmHWM") || l.starts_with("RssAnon") || l.starts_with("RssFile")
            })
            .collect();
        println!(
            "/* memory after index: {} */",
            pick.join(", ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let tb = Instant::now();
    if let Some(btf) = k.btf() {
        println!(
            "/* BTF parse + name index: {:?} ({} types) */",
            tb.elapsed(),
            btf.len()
        );
    }
    let t2 = Instant::now();
    let nsyms = k.symbols().map(|s| s.len()).unwrap_or(0);
    println!(
        "/* symbols: {:?} ({nsyms}), release {:?} */",
        t2.elapsed(),
        k.release()
    );
    for name in &args[1..] {
        let t3 = Instant::now();
        let id = if let Some(v) = name.strip_prefix("var:") {
            k.variable_type(v)
        } else {
            k.find_type(name)
        };
        let id = match id {
            Ok(id) => id,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        let lookup = t3.elapsed();
        println!("/* lookup {name}: {lookup:?} */");
        println!("{} {{", k.type_name(id));
        print_members(&k, id, 0, 1);
        match k.sizeof(id) {
            Ok(s) => println!("\t/* size: {s} */"),
            Err(e) => println!("\t/* size: {e} */"),
        }
        println!("}};  /* layout in {:?} */", t3.elapsed());
        if let Ok(t) = k.type_of(k.strip_typedefs_and_cv(id).unwrap_or(id)) {
            if let TypeKind::Enum { enumerators, .. } = &t.kind {
                for (n, v) in enumerators {
                    println!("\t{n} = {v},");
                }
            }
        }
    }
}
