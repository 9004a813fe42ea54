#![no_main]
//! The rule language's program parser (bindings, then an expression).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match vmtriage_dsl::parse_program(src) {
        Ok(p) => {
            let _ = format!("{p:?}");
        }
        Err(diags) => {
            for d in diags {
                let _ = format!("{d:?}");
            }
        }
    }
});
