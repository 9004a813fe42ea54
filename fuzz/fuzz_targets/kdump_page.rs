#![no_main]
//! One kdump page through its decompressor: zlib, LZO, snappy, zstd or an
//! unknown flag, into a page of the block sizes kdump files use.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, src)) = data.split_first() else {
        return;
    };
    let flags = [0x1, 0x2, 0x4, 0x20, 0x0, 0x3][(sel & 7) as usize % 6];
    let page = [4096, 512, 65536, 16384][(sel >> 3) as usize % 4];
    let _ = vmcore::fuzz::kdump_page(flags, src, page);
});
