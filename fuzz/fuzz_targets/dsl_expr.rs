#![no_main]
//! The rule language's expression parser.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match vmtriage_dsl::parse_expr(src) {
        Ok(e) => {
            let _ = format!("{e:?}");
        }
        Err(diags) => {
            for d in diags {
                let _ = format!("{d:?}");
            }
        }
    }
    let _ = vmtriage_dsl::line_col(src, src.len());
    let _ = vmtriage_dsl::line_col(src, src.len() / 2);
});
