//! Rules: loading rule files with positions, checking them against the
//! model's schema before any dump is opened, evaluating them over a dump
//! or over a kernel log alone.
//!
//! # A kernel log alone
//!
//! Every rule needs either the log or a dump ([`Need`]): each built-in
//! declares what reading it needs, the checker gives a rule the most its
//! reads need (or what it declares, `needs: log` / `needs: dump`), and a
//! loaded rule says it in [`rule::Rule::need`]. [`Model::of_log`] is the
//! model of a log without a dump — its records, oldest first, and the
//! kernel release if the log names it; [`RulePack::scan`] on it runs the
//! rules that need only the log and lists each other one in
//! [`ScanResult::skipped`] with [`SkipReason::NeedsDump`]:
//!
//! ```
//! use kmodel::printk::LogRecord;
//! use vmtriage_rules::{Model, RulePack, SkipReason};
//!
//! let (pack, _) = RulePack::embedded();
//! let records = vec![LogRecord {
//!     seq: 0,
//!     level: 0,
//!     timestamp_ns: 5_000_000_000,
//!     text: "watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [spin:42]".into(),
//! }];
//! let model = Model::of_log(records, Some("6.1.0-56-cloud-amd64".into()));
//! let result = pack.scan(&model);
//! assert!(result.diagnoses.iter().any(|d| d.rule == "SCHED-0001"));
//! assert!(result.skipped.iter().all(|s| s.reason == SkipReason::NeedsDump));
//! ```
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
pub use model::Model;
pub use pack::{Diagnosis, Evidence, RulePack, ScanResult, SkipReason, Skipped};
pub use ty::Need;
