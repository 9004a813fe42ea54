//! Errors: [`VmcoreError`] for opening a dump, [`ReadError`] for reading
//! physical memory from it.

use std::path::PathBuf;

/// A dump could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VmcoreError {
    /// The file could not be opened or mapped.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The path is not a regular file (a FIFO, a device, a directory),
    /// refused before anything is read.
    #[error(
        "{} is {kind}, not a regular file: dumps are read from regular files only (save a \
         stream into a file first)",
        path.display()
    )]
    NotAFile {
        path: PathBuf,
        /// What it is: "a FIFO (named pipe)", "a character device"…
        kind: &'static str,
    },
    /// The content is none of the known dump formats.
    #[error(
        "not a crash dump: starts with {found}; expected an ELF core, a kdump-compressed file \
         or a makedumpfile flattened stream"
    )]
    NotADump {
        /// A printable rendering of the first bytes.
        found: String,
    },
    /// The file ends before the headers do.
    #[error(
        "truncated {format} file: {what} needs {needed} bytes but only {len} are there; \
         the dump was probably cut short while being written or copied — copy it again"
    )]
    Truncated {
        format: &'static str,
        what: String,
        /// End offset (in the dump file) the headers need.
        needed: u64,
        /// Actual file length.
        len: u64,
    },
    /// A header holds values that make no sense.
    #[error("malformed {format} file: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    /// A valid but unsupported variant of a format.
    #[error("unsupported dump: {0}")]
    Unsupported(String),
}

impl VmcoreError {
    pub(crate) fn malformed(format: &'static str, reason: impl Into<String>) -> Self {
        VmcoreError::Malformed {
            format,
            reason: reason.into(),
        }
    }
}

/// Physical memory could not be read. Every variant names the first physical
/// address that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No memory at this address was captured: it is outside every dumped
    /// range (for kdump files: not a RAM page in the first bitmap).
    #[error("physical address {paddr:#x} is not in the dump")]
    NotInDump { paddr: u64 },
    /// The page exists but was filtered out when the dump was taken (the
    /// makedumpfile dump level excluded it: free, cache, user or zero page).
    #[error(
        "physical address {paddr:#x} is not in the dump: its page was excluded by the dump \
         level when the dump was taken"
    )]
    Excluded { paddr: u64 },
    /// The page's data is damaged (bad descriptor, failed decompression).
    #[error("physical address {paddr:#x}: page data is corrupt: {reason}")]
    Corrupt { paddr: u64, reason: String },
    /// The page's data lies past the end of the file, or the dump was left
    /// incomplete before the page was written.
    #[error(
        "physical address {paddr:#x}: the page's data is missing from the file (truncated or \
         incomplete dump)"
    )]
    Truncated { paddr: u64 },
}

impl ReadError {
    /// The physical address the error is about.
    pub fn paddr(&self) -> u64 {
        match *self {
            ReadError::NotInDump { paddr }
            | ReadError::Excluded { paddr }
            | ReadError::Corrupt { paddr, .. }
            | ReadError::Truncated { paddr } => paddr,
        }
    }
}
