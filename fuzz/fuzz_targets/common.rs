//! What the whole-dump targets do with a dump that opened.

use vmcore::Vmcore;

/// Overwrites the start of `data` with a format's signature, so that every
/// input reaches that format's parser, then [`exercise`]s it.
pub fn exercise_as(sig: &[u8], data: &[u8]) {
    let mut v = data.to_vec();
    if v.len() >= sig.len() {
        v[..sig.len()].copy_from_slice(sig);
    } else {
        v = sig.to_vec();
    }
    exercise(v);
}

/// Opens `bytes` as a dump and, if it opens, reads what a session reads:
/// the notes, VMCOREINFO, the page ranges, and a few pages through
/// `read_phys` (so the page descriptors and decompressors run).
pub fn exercise(bytes: Vec<u8>) {
    let Ok(core) = Vmcore::from_bytes(bytes) else {
        return;
    };
    let _ = core.format();
    let _ = core.arch();
    let _ = core.kdump_header();
    let _ = core.prstatus().len();
    for q in core.qemu_cpu_states() {
        let _ = q.cr3();
    }
    if let Some(info) = core.vmcoreinfo() {
        let _ = (info.osrelease(), info.build_id(), info.page_size());
        let _ = (info.kernel_offset(), info.phys_base(), info.crashtime());
    }
    let _ = core.phys_base();
    let ps = core.page_size().clamp(16, 1 << 20) as usize;
    let mut page = vec![0u8; ps];
    let ranges = core.phys_ranges();
    for r in ranges.iter().take(3) {
        let _ = core.read_phys(r.start, &mut page);
        // A read that crosses into the next page.
        let mut small = [0u8; 16];
        let _ = core.read_phys(r.start.saturating_add(ps as u64 - 8), &mut small);
    }
    for addr in [0u64, 0x1000, 0x100000, u64::MAX - 8] {
        let _ = core.read_phys(addr, &mut page);
    }
}
