#![no_main]
//! A kernel log kept as text: recognition, the reader, the report parser
//! and the title of a log alone.

use kmodel::logtext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = logtext::recognise(data);
    let Ok(log) = logtext::read(data) else {
        return;
    };
    assert!(log.records.len() <= logtext::MAX_RECORDS);
    assert!(log.records.iter().all(|r| r.text.len() <= logtext::MAX_LINE * 3));
    let _ = log.span_ns();
    let _ = kmodel::oops::parse_log(&log.records);
    let _ = kmodel::titles::log_title(&log.records, None);
});
