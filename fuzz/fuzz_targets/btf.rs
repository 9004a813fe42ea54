#![no_main]
//! A `.BTF` section: the header, the type and string tables, and every
//! query kdebuginfo makes of them.

use kdebuginfo::btf::{Btf, BtfKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(btf) = Btf::parse(data) else {
        return;
    };
    let _ = (btf.len(), btf.is_empty());
    for id in btf.ids().take(4096) {
        let kind = btf.kind(id);
        let name = btf.name(id);
        let _ = (btf.size(id), btf.target(id));
        for m in btf.members(id).iter().take(64) {
            let _ = m;
        }
        if let (Some(kind), Some(name)) = (kind, name) {
            let _ = btf.find(&name);
            let _ = btf.has_named(kind, &name);
            let _ = btf.definitions(kind, &name);
        }
    }
    for name in ["task_struct", "list_head", "int", ""] {
        if let Some(id) = btf.find(name) {
            let _ = btf.member_bit_offset(id, "tasks.next");
            let _ = btf.member_bit_offset(id, "a.b.c");
        }
        let _ = btf.definitions(BtfKind::Struct, name);
    }
    for id in [0, 1, u32::MAX, btf.len() as u32] {
        let _ = (btf.kind(id), btf.name(id), btf.size(id), btf.target(id));
        let _ = btf.members(id);
        let _ = btf.member_bit_offset(id, "x");
    }
});
