#![no_main]
//! The persisted DWARF name index (`~/.cache/vmtriage/index/*.idx`):
//! header, records, round trip.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kdebuginfo::fuzz::index_cache(data);
});
