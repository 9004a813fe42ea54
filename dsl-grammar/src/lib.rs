//! The vmtriage rule expression language: the grammar (`grammar.pest`), the
//! parser that builds the syntax tree of [`ast`], and its diagnostics.
//!
//! ```
//! let prog = vmtriage_dsl::parse_program(
//!     "for t in tasks where state == \"D\"\n t.stack has \"do_wait\"",
//! )
//! .unwrap();
//! assert_eq!(prog.stmts.len(), 1);
//! ```
//!
//! The language itself is described in this crate's README.md; which roots
//! (`tasks`, `cpus`…) and fields exist is up to the engine's schema, not to
//! this crate.

pub mod ast;
mod error;
mod lex;
mod parser;
mod sexpr;

use std::fmt;

pub use error::{Diagnostic, CODES};

/// How deep expressions may nest: parentheses, brackets, calls, quantifiers,
/// `group`/`sort`/`top`, `not` and unary `-` each count one level.
pub const MAX_NESTING: usize = 64;

/// How deep the syntax tree of one expression may be; this bounds chains of
/// binary operators (`a or b or c …`), so that whatever walks the tree
/// recursively afterwards (checker, evaluator) stays within its stack.
pub const MAX_TREE_DEPTH: usize = 256;

/// The longest text accepted (64 KiB); longer input is rejected at once
/// with E011, before any parsing.
pub const MAX_SOURCE_LEN: usize = 64 * 1024;

/// Parses a rule's `match:` text: `for`/`let` statements, then the condition.
pub fn parse_program(src: &str) -> Result<ast::Program, Vec<Diagnostic>> {
    parser::parse_program(src)
}

/// Parses one expression, e.g. a `{…}` hole of a message template or an
/// evidence entry.
pub fn parse_expr(src: &str) -> Result<ast::Expr, Vec<Diagnostic>> {
    parser::parse_expr(src)
}

/// 1-based line and column (in characters) of a byte offset of `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for ast::Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests;
