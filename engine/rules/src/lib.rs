//! Rules: loading rule files with positions, checking them against the
//! model's schema before any dump is opened, evaluating them over a dump.
//!
//! The modules import one way, in layers: ARCHITECTURE.md states them,
//! `tests/layers.rs` declares them and fails on an import against them.

pub mod builtins;
pub mod check;
pub mod diag;
pub mod eval;
pub mod evidence;
pub mod helpers;
pub mod limits;
pub mod model;
pub mod pack;
pub mod render;
pub mod rule;
pub mod schema;
pub mod source;
pub mod ty;
pub mod value;
pub mod version;

pub use diag::{Code, RuleDiagnostic};
pub use evidence::Fact;
pub use pack::{Diagnosis, Evidence, RulePack, ScanResult};
