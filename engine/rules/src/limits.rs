//! The bounds a rule runs within, in one place: what it may build, what
//! its regexes may compile to, the work and time it may spend on one dump.
//! The checker refuses a rule that would pass them before a dump is open;
//! the evaluator and the built-ins stop a rule that reaches them at run time.

/// The most a rule may build from its own parts (bytes of a string made
/// with `+`, elements of lists written `[..]`, counted with every `let` it
/// uses inlined). `let b = a + a` doubles `a`: forty such lines would need a
/// terabyte at evaluation, and are refused by the checker instead.
pub const MAX_BUILT_SIZE: u64 = 1 << 20;
/// Work units one rule may spend on one dump: a rule that would scan every
/// pair of 20 000 tasks stops with an error instead of stalling a scan.
pub const BUDGET: u64 = 50_000_000;
/// Wall-clock time a rule's own evaluation may take (reading the dump —
/// walks, unwinding — does not count: a huge dump is not a hostile rule).
pub const RULE_TIME: std::time::Duration = std::time::Duration::from_secs(1);
/// Regexes a rule may keep compiled at once.
pub const MAX_REGEXES: usize = 256;

/// The most bytes a rule's regex may take once compiled (the regex crate's
/// `size_limit`; a fifth of its default). A regex matches in time linear in
/// the text whatever its pattern (the regex crate does not backtrack, and
/// caps its lazy DFA's cache), so its compiled size is what a hostile
/// pattern can inflate: `(\w{50}){50}` would be tens of megabytes.
pub const MAX_REGEX_SIZE: usize = 2 << 20;

/// Compiles a regex of a rule with the rules' limits.
pub fn compile_regex(pat: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pat)
        .size_limit(MAX_REGEX_SIZE)
        .build()
}
