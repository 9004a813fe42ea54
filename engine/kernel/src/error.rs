//! Errors of the kernel model. Each names the address or symbol involved.

use vmcore::ReadError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot translate virtual address {vaddr:#x}: {reason}")]
    Translate { vaddr: u64, reason: String },
    #[error("cannot read {len} bytes at virtual address {vaddr:#x}: {source}")]
    Read {
        vaddr: u64,
        len: usize,
        #[source]
        source: ReadError,
    },
    #[error(transparent)]
    Debug(#[from] kdebuginfo::Error),
    #[error("no symbol `{0}` in this kernel")]
    NoSymbol(String),
    #[error("{0}")]
    Type(String),
    #[error("list at {head:#x} is corrupt or cyclic: {reason}")]
    BadList { head: u64, reason: String },
    #[error("{0}")]
    Unsupported(String),
    /// A strict answer was asked of memory that is partly unreadable.
    #[error("incomplete dump: {0}")]
    Incomplete(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
