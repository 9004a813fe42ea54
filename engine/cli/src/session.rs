//! Opening a dump with its debug info: format detection, vmlinux discovery,
//! build-id check; errors that say what to do next.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kdebuginfo::KernelDebugInfo;
use kmodel::Kernel;
use miette::Diagnostic;
use vmcore::Vmcore;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum OpenError {
    #[error("cannot open dump {path}")]
    #[diagnostic(
        code(vmtriage::dump),
        help("vmtriage reads ELF vmcores (/proc/vmcore copies, makedumpfile -E, QEMU dump-guest-memory), kdump-compressed files and makedumpfile flattened streams. If the file was cut short, copy it again; if it is compressed as a whole (.gz, .xz), decompress it first.")
    )]
    Dump {
        path: PathBuf,
        #[source]
        source: vmcore::VmcoreError,
    },
    #[error("cannot use debug info {path}")]
    #[diagnostic(
        code(vmtriage::debuginfo),
        help("pass the debug vmlinux of exactly the kernel that crashed with --vmlinux (Debian: linux-image-RELEASE-dbg, /usr/lib/debug/boot/vmlinux-RELEASE)")
    )]
    Debug {
        path: PathBuf,
        #[source]
        source: kdebuginfo::Error,
    },
    #[error("cannot use the kernel image {path}")]
    #[diagnostic(
        code(vmtriage::kernel_image),
        help("pass the vmlinux or vmlinuz of exactly the kernel that crashed (`vmtriage info DUMP` prints its release and build-id): /boot/vmlinuz-RELEASE of the machine that crashed or of the linux-image-RELEASE package of the same version, or its debug vmlinux; or leave --vmlinux out to read symbols, types and unwind tables from the dump's own memory")
    )]
    Image {
        path: PathBuf,
        #[source]
        source: kdebuginfo::Error,
    },
    #[error("no debug vmlinux found")]
    #[diagnostic(
        code(vmtriage::no_vmlinux),
        help("pass --vmlinux PATH or --debuginfo-dir DIR")
    )]
    NoVmlinux {
        #[source]
        source: kdebuginfo::Error,
    },
    #[error("the dump and the vmlinux do not fit together")]
    #[diagnostic(
        code(vmtriage::kernel),
        help("check that the vmlinux is the debug image of the dump's kernel (`vmtriage info DUMP` prints its release and build-id)")
    )]
    Kernel {
        #[source]
        source: kmodel::Error,
    },
    #[error("the dump {path} is damaged or incomplete")]
    #[diagnostic(
        code(vmtriage::damaged),
        help("pages the kernel's own structures live in are missing: the file was cut short (copy it again and compare its size) or makedumpfile stopped before the end (an incomplete dump); a dump level that excludes kernel data (-d 31 keeps it) also does this")
    )]
    Damaged {
        path: PathBuf,
        #[source]
        source: kmodel::Error,
    },
}

/// An open dump: the file, its debug info and the kernel model over both.
pub struct Session {
    pub path: PathBuf,
    pub kernel: Kernel,
}

/// Where a session's debug info comes from (`--debuginfo auto|none|dwarf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DebugSource {
    /// `--vmlinux` (a debug vmlinux, or a plain vmlinux or vmlinuz of the
    /// dump's build), else the debug vmlinux searched for; when none is
    /// found, a plain vmlinux or vmlinuz of the build in the usual places,
    /// else the dump's own memory, said on stderr.
    #[default]
    Auto,
    /// The dump's own memory (`--debuginfo none`): kallsyms, BTF, ORC.
    #[value(name = "none")]
    Memory,
    /// The debug vmlinux only (`--debuginfo dwarf`): an error when none is
    /// found, for answers that need line numbers, inline frames or frame
    /// variables.
    Dwarf,
}

impl Session {
    pub fn open(
        dump: &Path,
        vmlinux: Option<&Path>,
        debuginfo_dirs: &[PathBuf],
    ) -> Result<Session, OpenError> {
        Self::open_with(dump, vmlinux, debuginfo_dirs, DebugSource::Auto)
    }

    /// [`Session::open`] with the choice of debug info.
    pub fn open_with(
        dump: &Path,
        vmlinux: Option<&Path>,
        debuginfo_dirs: &[PathBuf],
        source: DebugSource,
    ) -> Result<Session, OpenError> {
        let core = Vmcore::open(dump).map_err(|source| OpenError::Dump {
            path: dump.to_path_buf(),
            source,
        })?;
        let debug = match (vmlinux, source) {
            (_, DebugSource::Memory) => {
                memory_debuginfo(&core).map_err(|source| OpenError::Debug {
                    path: dump.to_path_buf(),
                    source,
                })?
            }
            (Some(p), DebugSource::Dwarf) => open_debuginfo(p)?,
            (None, DebugSource::Dwarf) => {
                let (release, build_id) = dump_identity(&core);
                let p = kdebuginfo::find_vmlinux(&release, build_id.as_deref(), debuginfo_dirs)
                    .map_err(|source| OpenError::NoVmlinux { source })?;
                open_debuginfo(&p)?
            }
            (vmlinux, DebugSource::Auto) => {
                let (debug, notes) = auto_debuginfo(&core, vmlinux, debuginfo_dirs);
                for n in notes {
                    eprintln!("note: {n}");
                }
                debug?
            }
        };
        Self::from_parts(dump, core, Arc::new(debug))
    }
}

/// A dump's debug info as `--debuginfo auto` chooses it, with what to say
/// of the choice on stderr (one line when it is not the debug vmlinux, and
/// one per file passed over):
///
/// 1. `vmlinux` when given: a debug vmlinux, or a plain vmlinux or vmlinuz
///    of the dump's build (another build's is an error, not a fallback:
///    the user named it);
/// 2. the debug vmlinux found in the usual places (`kdebuginfo::find_vmlinux`);
/// 3. a plain vmlinux or vmlinuz of the build found in the usual places
///    ([`find_kernel_image`]);
/// 4. the dump's own memory.
///
/// A plain file comes before the dump's memory: its symbols, BTF and ORC
/// tables are the build's own as the linker wrote them (a vmlinux with a
/// symbol table has each symbol's size and kind, which kallsyms lacks),
/// while the dump is the memory of a kernel that crashed: pages of its
/// image may be missing from a filtered, truncated or damaged dump, or
/// overwritten by the bug being triaged. Both give the same answers
/// otherwise, and both are cached per build-id after the first time.
pub fn auto_debuginfo(
    core: &Vmcore,
    vmlinux: Option<&Path>,
    dirs: &[PathBuf],
) -> (Result<KernelDebugInfo, OpenError>, Vec<String>) {
    let mut notes = Vec::new();
    if let Some(p) = vmlinux {
        match KernelDebugInfo::open(p) {
            Ok(d) if d.has_dwarf() => {
                d.prepare();
                return (Ok(d), notes);
            }
            // Not readable at all (missing, a FIFO, a device): no kernel
            // image either, and the dump need not be asked about it.
            Err(source @ (kdebuginfo::Error::Io { .. } | kdebuginfo::Error::NotAFile { .. })) => {
                let path = p.to_path_buf();
                return (Err(OpenError::Debug { path, source }), notes);
            }
            _ => {}
        }
        let r = file_debuginfo(core, p).map_err(|source| OpenError::Image {
            path: p.to_path_buf(),
            source,
        });
        if let Ok(d) = &r {
            notes.push(format!(
                "reading symbols, types and unwind tables from {}",
                d.source_description()
            ));
        }
        return (r, notes);
    }
    let (release, build_id) = dump_identity(core);
    let e = match kdebuginfo::find_vmlinux(&release, build_id.as_deref(), dirs) {
        Ok(p) => return (open_debuginfo(&p), notes),
        Err(e) => e,
    };
    let lead =
        format!("no debug vmlinux for {release}; reading symbols, types and unwind tables from");
    if let Some(d) = find_kernel_image(core, &release, dirs, &mut notes) {
        notes.push(format!("{lead} {}", d.source_description()));
        return (Ok(d), notes);
    }
    notes.push(format!(
        "{lead} the dump's own memory (kallsyms, BTF, ORC: no line numbers, inline frames or \
         frame variables)"
    ));
    let r = memory_debuginfo(core).map_err(|m| {
        notes.push(m.to_string());
        OpenError::NoVmlinux { source: e }
    });
    (r, notes)
}

/// The first plain kernel image of the dump's build (a vmlinux without
/// DWARF, a vmlinuz) in the usual places (`kdebuginfo::kernel_image_paths`:
/// the `--debuginfo-dir` directories, `/boot`, `/lib/modules/RELEASE`); a
/// file found there but refused (another build, unreadable) is passed over
/// with a note saying why.
pub fn find_kernel_image(
    core: &Vmcore,
    release: &str,
    dirs: &[PathBuf],
    notes: &mut Vec<String>,
) -> Option<KernelDebugInfo> {
    for p in kdebuginfo::kernel_image_paths(release, dirs) {
        if !p.is_file() {
            continue;
        }
        match file_debuginfo(core, &p) {
            Ok(d) => return Some(d),
            Err(e) => notes.push(format!("not using {}: {e}", p.display())),
        }
    }
    None
}

/// The dump's kernel as VMCOREINFO describes it, and a reader of its
/// kernel image through the fixed mapping (`__START_KERNEL_map` +
/// `phys_base`), which is all the kallsyms, BTF and ORC tables need,
/// before any page table is known; given to `f`.
fn with_dump_kernel<T>(
    core: &Vmcore,
    f: impl FnOnce(
        kdebuginfo::ReadMemory<'_>,
        &kdebuginfo::DumpKernel<'_>,
    ) -> Result<T, kdebuginfo::Error>,
) -> Result<T, kdebuginfo::Error> {
    const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
    let info = core.vmcoreinfo().ok_or_else(|| {
        kdebuginfo::Error::NoDebugInfoInDump(
            "the dump has no VMCOREINFO note (no KASLR offset, no kernel symbols)".into(),
        )
    })?;
    let phys_base = info.phys_base().or(core.phys_base()).unwrap_or(0);
    let read = |va: u64, buf: &mut [u8]| -> Result<(), String> {
        if va < START_KERNEL_MAP {
            return Err(format!("{va:#x} is outside the kernel image"));
        }
        core.read_phys(va - START_KERNEL_MAP + phys_base, buf)
            .map_err(|e| e.to_string())
    };
    let build_id = info.build_id();
    let symbol = |n: &str| info.symbol(n);
    let k = kdebuginfo::DumpKernel {
        release: info.osrelease().unwrap_or("unknown"),
        build_id: build_id.as_deref(),
        kaslr_offset: info.kernel_offset().unwrap_or(0),
        symbol: &symbol,
        globals: kmodel::GLOBALS,
    };
    f(&read, &k)
}

/// Debug info from a plain kernel image file of the dump's build (see
/// `KernelDebugInfo::from_kernel_file`): a vmlinux without DWARF or a
/// vmlinuz, its build-id checked against the dump's.
pub fn file_debuginfo(core: &Vmcore, path: &Path) -> Result<KernelDebugInfo, kdebuginfo::Error> {
    with_dump_kernel(core, |read, k| {
        KernelDebugInfo::from_kernel_file(path, k, read)
    })
}

/// Debug info made from the dump's own memory (kallsyms, BTF, ORC; see
/// `kdebuginfo::memory`).
pub fn memory_debuginfo(core: &Vmcore) -> Result<KernelDebugInfo, kdebuginfo::Error> {
    with_dump_kernel(core, KernelDebugInfo::from_memory)
}

/// The release and build-id (hex) a dump's VMCOREINFO names.
pub fn dump_identity(core: &Vmcore) -> (String, Option<String>) {
    let info = core.vmcoreinfo();
    let release = info
        .and_then(|i| i.osrelease())
        .unwrap_or("unknown")
        .to_string();
    let build_id = info
        .and_then(|i| i.build_id())
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect());
    (release, build_id)
}

/// Opens a debug vmlinux for reading dumps: it must have DWARF; its symbol
/// table, unit headers and BTF are read at once (see `prepare`).
pub fn open_debuginfo(vmlinux: &Path) -> Result<KernelDebugInfo, OpenError> {
    let debug = KernelDebugInfo::open(vmlinux).map_err(|source| OpenError::Debug {
        path: vmlinux.to_path_buf(),
        source,
    })?;
    if !debug.has_dwarf() {
        return Err(OpenError::Debug {
            path: vmlinux.to_path_buf(),
            source: kdebuginfo::Error::NoDwarf {
                path: vmlinux.to_path_buf(),
            },
        });
    }
    debug.prepare();
    Ok(debug)
}

/// An error with its causes, on one line (for a database row or a log):
/// "cannot use debug info X: build-id mismatch: …".
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // Some messages already include their source's.
        if !s.ends_with(&text) {
            s = format!("{s}: {text}");
        }
        cause = c.source();
    }
    s
}

impl Session {
    /// A session over an already opened dump and shared debug info (one
    /// `KernelDebugInfo` per build, reused across the dumps of a bulk scan).
    pub fn from_parts(
        dump: &Path,
        core: Vmcore,
        debug: Arc<KernelDebugInfo>,
    ) -> Result<Session, OpenError> {
        let vmlinux = debug.path().to_path_buf();
        let kernel = Kernel::open(Arc::new(core), debug).map_err(|source| match source {
            kmodel::Error::Debug(e @ kdebuginfo::Error::BuildIdMismatch { .. }) => {
                OpenError::Debug {
                    path: vmlinux.clone(),
                    source: e,
                }
            }
            source @ kmodel::Error::Read { .. } => OpenError::Damaged {
                path: dump.to_path_buf(),
                source,
            },
            source => OpenError::Kernel { source },
        })?;
        Ok(Session {
            path: dump.to_path_buf(),
            kernel,
        })
    }
}
