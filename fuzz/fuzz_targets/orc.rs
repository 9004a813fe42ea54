#![no_main]
//! ORC tables (`.orc_unwind_ip` + `.orc_unwind`) in each known entry
//! layout: building (sorting, merging duplicates) and lookups.

use kunwind::orc::{OrcLayout, OrcTable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 11 {
        return;
    }
    let layout = [OrcLayout::V6_2, OrcLayout::V6_3, OrcLayout::V6_4][data[0] as usize % 3];
    let split = u16::from_le_bytes([data[1], data[2]]) as usize;
    let ip_base = u64::from_le_bytes(data[3..11].try_into().unwrap());
    let rest = &data[11..];
    let (ips, entries) = rest.split_at(split.min(rest.len()));
    let t = OrcTable::build(ip_base, ips, entries, &layout);
    let _ = (t.len(), t.is_empty());
    for a in [0, ip_base, ip_base.wrapping_add(100), u64::MAX] {
        let _ = t.lookup(a);
    }
    for raw in entries.chunks_exact(6).take(64) {
        let _ = layout.decode(raw.try_into().unwrap());
    }
});
