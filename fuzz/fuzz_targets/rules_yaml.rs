#![no_main]
//! A rule file: YAML, the embedded expressions, the checker
//! (`RulePack::from_sources`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let rules = vec![("fuzz.yaml".to_string(), src.to_string())];
    let (pack, diags) = vmtriage_rules::pack::RulePack::from_sources(&rules, &[]);
    let _ = pack.get("fuzz");
    for d in diags {
        let _ = format!("{d:?}");
    }
});
