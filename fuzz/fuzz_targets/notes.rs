#![no_main]
//! ELF note areas: the note iterator, PRSTATUS, QEMU CPU state and
//! VMCOREINFO notes, in both byte orders.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, area)) = data.split_first() else {
        return;
    };
    let be = sel & 1 != 0;
    let _ = vmcore::fuzz::note_area(area, be, sel & 2 == 0, sel & 4 == 0);
    for n in vmcore::iter_notes(area, be) {
        let _ = (n.name, n.n_type, n.desc.len());
        let _ = vmcore::PrStatus::parse(n.desc, sel & 4 == 0);
        let _ = vmcore::QemuCpuState::parse(n.desc).map(|q| q.cr3());
    }
});
