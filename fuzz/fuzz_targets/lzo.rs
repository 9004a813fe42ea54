#![no_main]
//! The LZO1X decompressor of kdump pages (engine/vmcore/src/lzo.rs), into
//! buffers of several sizes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, src)) = data.split_first() else {
        return;
    };
    let dst_len = [4096, 0, 1, 17, 256, 65536][sel as usize % 6];
    if let Some(n) = vmcore::fuzz::lzo(src, dst_len) {
        assert!(n <= dst_len);
    }
});
