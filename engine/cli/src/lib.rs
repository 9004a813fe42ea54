//! The `vmtriage` command line, as a library so that tests drive the same code.

pub mod bt;
pub mod bulk;
pub mod export;
pub mod kmem;
pub mod locks;
pub mod log;
pub mod pipe;
pub mod print;
pub mod rcu;
pub mod report;
pub mod runq;
pub mod scan;
pub mod session;
pub mod workqueue;

pub use session::{OpenError, Session};
