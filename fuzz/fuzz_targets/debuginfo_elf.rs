#![no_main]
//! A debug vmlinux: ELF sections, symbols, build-id, BTF and the DWARF
//! name index, through the lookups the kernel model makes.

use kdebuginfo::KernelDebugInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::env::set_var("VMTRIAGE_INDEX_CACHE", "off");
    let Ok(k) = KernelDebugInfo::from_bytes("fuzz-vmlinux", data.to_vec()) else {
        return;
    };
    let _ = (k.machine(), k.is_64bit_le(), k.build_id_hex(), k.release());
    let _ = k.sections().len();
    let _ = k.btf().map(|b| b.len());
    if let Ok(syms) = k.symbols() {
        let _ = syms;
    }
    let _ = k.symbol("main").map(|s| s.addr);
    let _ = k.symbolize(0x1000);
    for name in [
        "struct task_struct",
        "struct list_head",
        "int",
        "long unsigned int",
    ] {
        if let Ok(id) = k.find_type(name) {
            let _ = k.type_of(id);
            let _ = k.sizeof(id);
            let _ = k.type_name(id);
            let _ = k.member_path(id, "next");
            let _ = k.strip_typedefs_and_cv(id);
        }
    }
    let _ = k.variable("global");
    let _ = k.function_type("main");
    let _ = k.code_units().map(|c| c.unit_at(0x1000));
    let _ = k.index_stats();
});
