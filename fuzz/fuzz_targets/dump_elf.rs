#![no_main]
//! A whole dump, an ELF core: `Vmcore::from_bytes`, then the notes and a few
//! pages through `read_phys` (see `common.rs`).

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::exercise_as(b"\x7fELF", data));
