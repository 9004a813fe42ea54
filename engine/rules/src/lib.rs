//! Rules: loading rule files with positions, checking them against the
//! model's schema before any dump is opened, evaluating them over a dump.

pub mod builtins;
pub mod check;
pub mod diag;
pub mod eval;
pub mod helpers;
pub mod model;
pub mod pack;
pub mod rule;
pub mod schema;
pub mod source;
pub mod value;

pub use diag::{Code, RuleDiagnostic};
pub use pack::{Diagnosis, RulePack, ScanResult};
