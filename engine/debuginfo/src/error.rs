//! The crate's error type. Every message says what is wrong and, where it
//! helps, what the user can do about it.

use std::path::PathBuf;

/// Errors from opening, indexing and querying kernel debug information.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or mapped.
    #[error("cannot open {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The path is not a regular file (a FIFO, a device, a directory),
    /// refused before anything is read.
    #[error("{} is {kind}, not a regular file: pass the kernel file itself", path.display())]
    NotAFile {
        path: PathBuf,
        /// What it is: "a FIFO (named pipe)", "a character device"…
        kind: &'static str,
    },

    /// The file is not a usable ELF file (truncated, garbage, wrong class).
    #[error("{path} is not a valid ELF file ({reason}); pass the uncompressed debug vmlinux, not vmlinuz")]
    BadElf { path: PathBuf, reason: String },

    /// There is no `.debug_info` section.
    #[error(
        "{path} has no DWARF (.debug_info missing): it is a stripped kernel image; \
         install the linux-image-RELEASE-dbg package (or -dbgsym) or pass --vmlinux with the debug vmlinux"
    )]
    NoDwarf { path: PathBuf },

    /// The debug sections are compressed, which this crate does not decompress.
    #[error(
        "{path}: section {section} is compressed (SHF_COMPRESSED), which is not supported; \
         run `objcopy --decompress-debug-sections` on the file first"
    )]
    CompressedSection { path: PathBuf, section: String },

    /// The DWARF data could not be parsed.
    #[error("malformed DWARF in {path}: {reason}")]
    Dwarf { path: PathBuf, reason: String },

    /// There is no ELF symbol table (`.symtab`).
    #[error("{path} has no symbol table (.symtab): it was stripped; use the debug vmlinux")]
    NoSymtab { path: PathBuf },

    /// The vmlinux has no NT_GNU_BUILD_ID note.
    #[error(
        "{path} has no build-id note (NT_GNU_BUILD_ID), so it cannot be checked against the dump"
    )]
    NoBuildId { path: PathBuf },

    /// The dump's build-id is not the vmlinux's.
    #[error(
        "build-id mismatch: the dump's kernel has build-id {dump} but {path} has build-id {vmlinux}; \
         use the debug vmlinux of exactly the kernel that crashed (same release and package version)"
    )]
    BuildIdMismatch {
        path: PathBuf,
        dump: String,
        vmlinux: String,
    },

    /// No debug vmlinux was found in the usual places.
    #[error(
        "no debug vmlinux found for kernel {release}{}; looked in: {}; \
         install linux-image-{release}-dbg or pass --vmlinux / --debuginfo-dir",
        build_id.as_ref().map(|b| format!(" (build-id {b})")).unwrap_or_default(),
        searched.iter().map(|(p, why)| match why {
            Some(why) => format!("{} (not taken: {why})", p.display()),
            None => p.display().to_string(),
        }).collect::<Vec<_>>().join(", ")
    )]
    VmlinuxNotFound {
        release: String,
        build_id: Option<String>,
        /// Each place, and why a file there was not taken.
        searched: Vec<(PathBuf, Option<String>)>,
    },

    /// No type of that name exists in the debug info.
    #[error("type `{0}` not found in the kernel debug info")]
    TypeNotFound(String),

    /// No global variable of that name exists in the debug info.
    #[error("variable `{0}` not found in the kernel debug info")]
    VariableNotFound(String),

    /// A member path component does not exist.
    #[error("`{ty}` has no member `{member}`")]
    NoMember { ty: String, member: String },

    /// A member path goes through something that is not a struct/union/array.
    #[error("cannot take member `{member}` of `{ty}`: {reason}")]
    BadMemberPath {
        ty: String,
        member: String,
        reason: String,
    },

    /// A DIE could not be turned into a type.
    #[error("bad type at .debug_info offset {offset:#x}: {reason}")]
    BadType { offset: u64, reason: String },

    /// The kernel's own tables (kallsyms, BTF, ORC) could not be read from
    /// the dump's memory.
    #[error("cannot make debug info from the dump's memory: {0}; pass the debug vmlinux with --vmlinux or --debuginfo-dir")]
    NoDebugInfoInDump(String),

    /// A plain kernel image (a vmlinux without DWARF, a vmlinuz) that
    /// cannot stand in for the debug vmlinux.
    #[error("cannot read {path} as the dump's kernel: {reason}")]
    BadKernelImage { path: PathBuf, reason: String },

    /// A plain kernel image of another build than the dump's.
    #[error(
        "build-id mismatch: the dump's kernel has build-id {dump} but {path} has build-id {file}: \
         it is another build of the kernel"
    )]
    ImageBuildIdMismatch {
        path: PathBuf,
        dump: String,
        /// The file's build-id, and its release where known (`hex (release)`).
        file: String,
    },

    /// A fact only DWARF has (a global's type, line numbers, frame
    /// variables), asked of debug info made without it.
    #[error("needs debuginfo: {0}")]
    NeedsDebuginfo(String),

    /// Following type references went too deep (a cycle through typedefs or qualifiers).
    #[error(
        "type reference chain too deep at .debug_info offset {offset:#x} (cycle in the DWARF?)"
    )]
    TypeCycle { offset: u64 },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
