#![no_main]
//! VMCOREINFO text and every accessor the kernel model uses.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let info = vmcore::VmcoreInfo::parse(data);
    let _ = info.raw().len();
    let _ = info.iter().count();
    let _ = (info.osrelease(), info.build_id(), info.page_size());
    let _ = (
        info.kernel_offset(),
        info.phys_base(),
        info.pgtable_l5_enabled(),
    );
    let _ = info.crashtime();
    let _ = (info.symbol("init_uts_ns"), info.offset("task_struct.tasks"));
    let _ = (
        info.size("page"),
        info.length("mem_section"),
        info.number("phys_base"),
    );
    let _ = info.get("OSRELEASE");
});
