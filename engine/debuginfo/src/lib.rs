//! Kernel debug information from a debug `vmlinux`: ELF sections and notes,
//! the symbol table, and a lazily built, thread-safe type index over the DWARF.
//!
//! ```no_run
//! let k = kdebuginfo::KernelDebugInfo::open("/usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64")?;
//! let task = k.find_type("struct task_struct")?;
//! let comm = k.member_path(task, "comm")?;
//! println!("comm at {} is {}", comm.offset, k.type_name(comm.ty));
//! # Ok::<(), kdebuginfo::Error>(())
//! ```
//!
//! All addresses are link-time addresses; callers add the KASLR offset.

pub mod btf;
mod btftypes;
pub mod bzimage;
mod discover;
mod dwarf;
mod elf;
mod error;
mod file;
mod hash;
pub mod memory;
mod plain;
mod reader;
mod symbols;
mod types;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

pub use btftypes::GlobalDecl;
pub use discover::{candidate_paths, find_vmlinux, kernel_image_paths};
pub use dwarf::{CodeUnits, IndexStats};
pub use elf::{to_hex, Section, SectionInfo};
pub use error::{Error, Result};
pub use memory::{DumpKernel, ReadMemory};
pub use reader::SectionReader;
pub use symbols::{Symbol, SymbolKind, SymbolOffset, SymbolTable};
pub use types::{Encoding, Member, MemberInfo, Type, TypeId, TypeKind, Variable};

use dwarf::{DwarfData, NameIndex, NameSpace};
use elf::{Backing, ElfFile};
use hash::FxBuildHasher;
use types::MAX_DEPTH;

/// Debug information of one kernel image. `Send + Sync`: share it with `Arc`.
pub struct KernelDebugInfo {
    /// Tables other crates derive from this build (the unwinder's ORC and
    /// line tables…), one per type: every dump of the build shares them.
    /// First, so that they are dropped before the bytes they may borrow.
    derived: Mutex<HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>,
    elf: ElfFile,
    symbols: OnceLock<std::result::Result<SymbolTable, String>>,
    dwarf: OnceLock<Result<DwarfData>>,
    index: OnceLock<NameIndex>,
    btf: OnceLock<Option<btf::Btf<'static>>>,
    types: RwLock<HashMap<TypeId, Arc<Type>, FxBuildHasher>>,
    /// Array types made for declared globals without DWARF (element,
    /// length, id).
    synthetic: Mutex<Vec<(TypeId, u64, TypeId)>>,
    /// What a plain kernel file's debug info was read from, for `info`.
    origin: OnceLock<String>,
    /// When the file was last modified (opened from disk only), a part of
    /// the name index cache's key.
    modified: Option<std::time::SystemTime>,
    /// The globals typed without DWARF, as the caller declared them.
    globals: OnceLock<&'static [GlobalDecl]>,
    // Declared last so that it is dropped after everything borrowing from it;
    // shared with the `SectionReader`s handed out, which keep it alive.
    _backing: Arc<Backing>,
}

impl std::fmt::Debug for KernelDebugInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelDebugInfo")
            .field("path", &self.elf.path)
            .field("build_id", &self.build_id_hex())
            .finish_non_exhaustive()
    }
}

fn extend(data: &[u8]) -> &'static [u8] {
    // SAFETY: the bytes live in `Backing` (a memory map or a heap buffer that
    // is never moved or mutated), which the `KernelDebugInfo` owns and drops
    // last; the `'static` slices never escape with a lifetime longer than
    // `&self` through the public API.
    unsafe { std::slice::from_raw_parts(data.as_ptr(), data.len()) }
}

/// Whether a name is made only of the words C spells its base types with
/// (`long unsigned int`, `_Bool`, `__int128 unsigned`, `complex double`).
fn is_base_type_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "char",
        "short",
        "int",
        "long",
        "signed",
        "unsigned",
        "_Bool",
        "float",
        "double",
        "__int128",
        "complex",
        "_Complex",
        "_Float16",
        "_Float32",
        "_Float64",
        "_Float128",
        "__bf16",
        "bool",
    ];
    name.split_whitespace().next().is_some() && name.split_whitespace().all(|w| WORDS.contains(&w))
}

/// Makes each temporary cache file name unique within the process.
static PERSIST_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Drop for KernelDebugInfo {
    /// Keep what lookups scanned of the name index for the next process.
    fn drop(&mut self) {
        if let Some(ix) = self.index.get() {
            if ix.advanced() {
                self.persist_index(ix);
            }
        }
    }
}

impl KernelDebugInfo {
    /// Map a vmlinux (or any ELF file with kernel debug info) and read its
    /// section table. Symbols and the DWARF index are built on first use.
    pub fn open(path: impl AsRef<Path>) -> Result<KernelDebugInfo> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = file::open_input(path)?;
        // SAFETY: the file is mapped read-only; modifying it while mapped is
        // outside what this crate can guard against (as for every debugger).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let data = extend(&map);
        let mut k = Self::with_backing(path, data, Backing::Mmap(map))?;
        k.modified = file.metadata().and_then(|m| m.modified()).ok();
        Ok(k)
    }

    /// Use an in-memory ELF image (`path` is only used in messages).
    pub fn from_bytes(path: impl AsRef<Path>, bytes: Vec<u8>) -> Result<KernelDebugInfo> {
        let data = extend(&bytes);
        Self::with_backing(path.as_ref(), data, Backing::Owned(bytes))
    }

    fn with_backing(path: &Path, data: &'static [u8], backing: Backing) -> Result<KernelDebugInfo> {
        let elf = ElfFile::parse(path, data)?;
        Ok(KernelDebugInfo {
            derived: Mutex::new(HashMap::new()),
            elf,
            symbols: OnceLock::new(),
            dwarf: OnceLock::new(),
            index: OnceLock::new(),
            btf: OnceLock::new(),
            types: RwLock::new(HashMap::default()),
            synthetic: Mutex::new(Vec::new()),
            origin: OnceLock::new(),
            modified: None,
            globals: OnceLock::new(),
            _backing: Arc::new(backing),
        })
    }

    /// The `T` derived from this build, made by `init` the first time it is
    /// asked for. `T` must not hold an `Arc` of this `KernelDebugInfo` (a
    /// cycle that would never be freed): take it as an argument instead.
    pub fn derived<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let key = std::any::TypeId::of::<T>();
        let get = |m: &HashMap<_, Arc<dyn std::any::Any + Send + Sync>>| {
            m.get(&key).cloned().and_then(|v| v.downcast::<T>().ok())
        };
        if let Some(v) = get(&self.derived.lock().unwrap_or_else(|e| e.into_inner())) {
            return v;
        }
        // Made outside the lock: `init` may ask for other derived tables.
        let made: Arc<dyn std::any::Any + Send + Sync> = Arc::new(init());
        let mut m = self.derived.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(key).or_insert(made);
        get(&m).expect("inserted above with this type")
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.elf.path
    }

    /// The ELF machine (`e_machine`, 62 for x86-64).
    pub fn machine(&self) -> u16 {
        self.elf.machine
    }

    /// Whether the file is a 64-bit, little-endian ELF.
    pub fn is_64bit_le(&self) -> bool {
        self.elf.is_64 && self.elf.little_endian
    }

    // ------------------------------------------------------------------ ELF

    /// The GNU build-id (NT_GNU_BUILD_ID note) bytes.
    pub fn build_id(&self) -> Option<&[u8]> {
        self.elf.build_id()
    }

    /// The build-id as lower-case hex.
    pub fn build_id_hex(&self) -> Option<String> {
        self.build_id().map(to_hex)
    }

    /// Check that the dump's build-id (hex, as found in the dump's
    /// VMCOREINFO `BUILD-ID=` line or its notes) is this vmlinux's.
    /// A dump id that is a prefix of ours (truncated notes) is accepted.
    pub fn check_build_id(&self, dump_build_id_hex: &str) -> Result<()> {
        let ours = self.build_id_hex().ok_or_else(|| Error::NoBuildId {
            path: self.elf.path.clone(),
        })?;
        let dump = dump_build_id_hex.trim().to_ascii_lowercase();
        if !dump.is_empty() && ours.starts_with(&dump) {
            return Ok(());
        }
        Err(Error::BuildIdMismatch {
            path: self.elf.path.clone(),
            dump,
            vmlinux: ours,
        })
    }

    /// Whether the file has DWARF (`.debug_info`).
    pub fn has_dwarf(&self) -> bool {
        self.elf
            .section_index(".debug_info")
            .is_some_and(|i| self.elf.sections[i].size > 0)
    }

    /// Whether this was made from a dump's memory ([`KernelDebugInfo::from_memory`]):
    /// kallsyms symbols, BTF types, ORC; no DWARF.
    pub fn is_from_memory(&self) -> bool {
        self.section(".notes")
            .is_some_and(|s| memory::is_memory_image(s.data))
    }

    /// What the types and symbols come from, for `info`: the debug
    /// vmlinux (DWARF), the dump's memory, or a plain kernel file (its
    /// path and kind).
    pub fn source_description(&self) -> String {
        if self.has_dwarf() {
            "debug vmlinux (DWARF)".into()
        } else if self.is_from_memory() {
            "the dump's memory (kallsyms, BTF, ORC; no line numbers, inline frames or frame variables)".into()
        } else if let Some(o) = self.origin.get() {
            o.clone()
        } else {
            format!(
                "{}: vmlinux without DWARF (ELF symbols, BTF)",
                self.elf.path.display()
            )
        }
    }

    /// Says where a plain kernel file's debug info came from (once).
    pub(crate) fn set_origin(&self, origin: String) {
        let _ = self.origin.set(origin);
    }

    /// All sections.
    pub fn sections(&self) -> &[SectionInfo] {
        &self.elf.sections
    }

    /// A section's bytes and link-time address (`.orc_unwind_ip`,
    /// `.orc_unwind`, `.orc_header`, `.BTF`, …). None when absent or when
    /// it lies outside the file.
    pub fn section(&self, name: &str) -> Option<Section<'_>> {
        self.elf.section(name)
    }

    /// A section's bytes as an owning DWARF reader: it keeps the file's
    /// map alive, so it may outlive this `KernelDebugInfo` (see
    /// [`SectionReader`]). Empty for `SHT_NOBITS`; `None` if there is no
    /// such section or it lies outside the file.
    pub fn section_reader(&self, name: &str) -> Option<SectionReader> {
        let s = &self.elf.sections[self.elf.section_index(name)?];
        let endian = if self.elf.little_endian {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        if s.is_nobits() {
            return Some(SectionReader::from_vec(Vec::new(), endian));
        }
        let start = usize::try_from(s.file_offset).ok()?;
        let end = start.checked_add(usize::try_from(s.size).ok()?)?;
        SectionReader::new(self._backing.clone(), start, end, endian)
    }

    /// The parsed `.BTF` section, if present and well-formed (parsed once).
    pub fn btf(&self) -> Option<&btf::Btf<'_>> {
        self.btf
            .get_or_init(|| btf::Btf::parse(extend(self.section(".BTF")?.data)))
            .as_ref()
    }

    /// Bytes of the file image at a link-time address (from an allocated
    /// section with file contents; `.bss` gives None). May be shorter than
    /// `len` at the end of a section.
    pub fn read_link_addr(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.elf.read_link_addr(addr, len)
    }

    /// The kernel release (`6.1.0-56-cloud-amd64`) from `linux_banner`.
    pub fn release(&self) -> Option<String> {
        let sym = self.symbols().ok()?.lookup("linux_banner")?;
        let len = if sym.size > 0 {
            sym.size.min(1024)
        } else {
            256
        } as usize;
        let bytes = self.read_link_addr(sym.addr, len)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let text = std::str::from_utf8(&bytes[..end]).ok()?;
        let rest = text.strip_prefix("Linux version ")?;
        rest.split_whitespace().next().map(str::to_string)
    }

    // -------------------------------------------------------------- symbols

    /// Which compilation unit covers a code address, from `.debug_aranges`
    /// (read once).
    pub fn code_units(&self) -> Result<&CodeUnits> {
        Ok(self.dwarf()?.code_units())
    }

    /// Build the symbol table on one thread while the DWARF unit headers
    /// and BTF are read on another (each is otherwise made on first use,
    /// one after the other). Errors are left for the first real use.
    pub fn prepare(&self) {
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = self.symbols();
            });
            let _ = self.dwarf();
            let _ = self.btf();
        });
    }

    /// The ELF symbol table, built on first use.
    pub fn symbols(&self) -> Result<&SymbolTable> {
        match self
            .symbols
            .get_or_init(|| SymbolTable::build(&self.elf).map_err(|e| e.to_string()))
        {
            Ok(t) => Ok(t),
            Err(_) if self.elf.shdrs.iter().all(|s| s.sh_type != 2) => Err(Error::NoSymtab {
                path: self.elf.path.clone(),
            }),
            Err(e) => Err(Error::BadElf {
                path: self.elf.path.clone(),
                reason: e.clone(),
            }),
        }
    }

    /// Shortcut: the symbol of that name.
    pub fn symbol(&self, name: &str) -> Option<Symbol<'_>> {
        self.symbols().ok()?.lookup(name)
    }

    /// Shortcut: the nearest symbol at or below a link-time address.
    pub fn symbolize(&self, addr: u64) -> Option<SymbolOffset<'_>> {
        self.symbols().ok()?.symbolize(addr)
    }

    // ---------------------------------------------------------------- DWARF

    fn dwarf(&self) -> Result<&DwarfData> {
        match self
            .dwarf
            .get_or_init(|| DwarfData::load(&self.elf, matches!(*self._backing, Backing::Mmap(_))))
        {
            Ok(d) => Ok(d),
            Err(e) => Err(self.copy_error(e)),
        }
    }

    fn copy_error(&self, e: &Error) -> Error {
        let path = self.elf.path.clone();
        match e {
            Error::NoDwarf { .. } => Error::NoDwarf { path },
            Error::CompressedSection { section, .. } => Error::CompressedSection {
                path,
                section: section.clone(),
            },
            Error::BadElf { reason, .. } => Error::BadElf {
                path,
                reason: reason.clone(),
            },
            Error::Dwarf { reason, .. } => Error::Dwarf {
                path,
                reason: reason.clone(),
            },
            other => Error::Dwarf {
                path,
                reason: other.to_string(),
            },
        }
    }

    fn index(&self) -> Result<&NameIndex> {
        let d = self.dwarf()?;
        Ok(self.index.get_or_init(|| {
            let total = d.headers.len();
            let key = self.index_cache_key();
            self.index_cache_path()
                .and_then(|p| file::read_capped(&p, self.index_cache_limit(&key)))
                .and_then(|b| NameIndex::from_bytes(&b, self.elf.data, &key, total))
                .unwrap_or_else(|| NameIndex::empty(total))
        }))
    }

    /// Write what the index has scanned to the cache, unless the file there
    /// already covers as much (another process got further). Best effort:
    /// a read-only or full disk only costs the next run a scan.
    fn persist_index(&self, ix: &NameIndex) {
        if !ix.persistable() {
            return;
        }
        let Some(p) = self.index_cache_path() else {
            return;
        };
        let key = self.index_cache_key();
        if let Some(theirs) = NameIndex::persisted_units(&p, &key) {
            if !ix.improves_on(theirs) {
                return;
            }
        }
        let Some(bytes) = ix.to_bytes(self.elf.data, &key) else {
            return;
        };
        let seq = PERSIST_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = p.with_extension(format!("tmp{}-{seq}", std::process::id()));
        if p.parent()
            .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && file::write_new(&tmp, &bytes).is_ok()
            && std::fs::rename(&tmp, &p).is_ok()
        {
            ix.set_persisted();
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Where the name index of this build is cached: `$VMTRIAGE_INDEX_CACHE`
    /// (`off` disables it, see [`cache_dir`]), else `$XDG_CACHE_HOME/vmtriage/index` or
    /// `~/.cache/vmtriage/index`, one file per build-id.
    fn index_cache_path(&self) -> Option<std::path::PathBuf> {
        // Only files opened from disk: an in-memory image has nothing to key on.
        if !matches!(*self._backing, Backing::Mmap(_)) {
            return None;
        }
        Some(cache_dir()?.join(format!("{}.idx", self.build_id_hex()?)))
    }

    /// What a cached index must match: the build-id, the file's size, its
    /// modification time, its .debug_info size and a checksum of its
    /// .debug_abbrev (read by every unit scanned anyway; 5 MB for a
    /// Debian 6.1 vmlinux). Another file with the same build-id (a stripped
    /// copy, a damaged one) does not reuse the index, nor share its own.
    fn index_cache_key(&self) -> Vec<u8> {
        let mut k = self.build_id().map(|b| b.to_vec()).unwrap_or_default();
        k.extend_from_slice(&(self.elf.data.len() as u64).to_le_bytes());
        let mtime = self
            .modified
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        k.extend_from_slice(&mtime.to_le_bytes());
        let info = self
            .section(".debug_info")
            .map(|s| s.data.len())
            .unwrap_or(0);
        k.extend_from_slice(&(info as u64).to_le_bytes());
        let abbrev = self.section(".debug_abbrev").map(|s| s.data).unwrap_or(&[]);
        let mut h = hash::FxHasher::default();
        std::hash::Hasher::write(&mut h, abbrev);
        k.extend_from_slice(&std::hash::Hasher::finish(&h).to_le_bytes());
        k
    }

    /// The largest cache file an index of this vmlinux can make: each
    /// record is a distinct named top-level DIE (at least an abbreviation
    /// code and a name form: 2 bytes of .debug_info) or a variable of the
    /// symbol table (24 bytes of .symtab). A longer file is not read.
    fn index_cache_limit(&self, key: &[u8]) -> u64 {
        let size = |name| self.section(name).map_or(0, |s| s.data.len() as u64);
        let records = size(".debug_info") / 2 + size(".symtab") / 24;
        dwarf::index_file_len(key, records)
    }

    /// Complete the DWARF name index now (lookups otherwise scan only as
    /// many units as they need), persist it, and return its statistics.
    pub fn index_stats(&self) -> Result<IndexStats> {
        let ix = self.index()?;
        ix.complete(self.dwarf()?);
        if ix.advanced() {
            self.persist_index(ix);
        }
        Ok(ix.stats())
    }

    /// How far the name index got so far, without scanning more.
    pub fn index_progress(&self) -> Result<IndexStats> {
        Ok(self.index()?.stats())
    }

    fn lookup(&self, ns: NameSpace, name: &str) -> Result<Option<dwarf::Hit>> {
        let expect = self.expect(ns, name);
        if ns == NameSpace::Variable && expect != dwarf::Expect::Absent {
            if let Some(h) = self.variable_at_symbol(name)? {
                return Ok(Some(h));
            }
        }
        Ok(self.index()?.get(self.dwarf()?, ns, name, expect))
    }

    /// The definition of a global variable at its symbol's address, looked
    /// for in the units the symbol table points at (see
    /// [`SymbolTable::defining_file_text`]) rather than in every unit before
    /// it. None when the hint does not lead to it; the name index decides then.
    fn variable_at_symbol(&self, name: &str) -> Result<Option<dwarf::Hit>> {
        /// More units than this between the bounds: not worth it.
        const MAX_UNITS: usize = 160;
        let ix = self.index()?;
        if let Some(h) = ix.variable_hint(name) {
            return Ok(h);
        }
        let d = self.dwarf()?;
        let Ok(syms) = self.symbols() else {
            return Ok(None);
        };
        let Some(sym) = syms.lookup(name) else {
            return Ok(None);
        };
        let damaged = std::sync::atomic::AtomicUsize::new(0);
        let found = (|| {
            let (lo, hi) = syms.defining_file_text(name)?;
            let (first, last) = (d.unit_of_code(lo)?, d.unit_of_code(hi)?);
            if first > last || last - first >= MAX_UNITS {
                return None;
            }
            d.variable_in_units(first, last, name, &damaged, |h| {
                d.parse_variable(h.die, name, false)
                    .is_ok_and(|v| v.address == Some(sym.addr))
            })
        })();
        ix.note_damaged(damaged.into_inner());
        // Keyed by the symbol's name, which lies in the file (and so can
        // be persisted as an offset, like the index's names).
        ix.set_variable_hint(extend(sym.name.as_bytes()), found);
        Ok(found)
    }

    /// What the symbol table and BTF say of a name: whether it exists, and
    /// whether its first DWARF definition is the one a full scan would pick.
    /// Applied the same whether the index is complete or not, so answers do
    /// not depend on what a cache holds.
    fn expect(&self, ns: NameSpace, name: &str) -> dwarf::Expect {
        use dwarf::Expect;
        // BTF as vmlinux carries it lists every named type of the DWARF (a
        // test checks it on every corpus kernel); one without the kernel's
        // central struct is not that, and is not trusted.
        let btf = self.btf().filter(|b| {
            matches!(
                b.definitions(btf::BtfKind::Struct, "task_struct"),
                btf::BtfDefinitions::One { .. }
            )
        });
        match ns {
            // A global the model can read has a symbol (vmlinux keeps static
            // ones too); DWARF alone also lists optimised-out variables.
            NameSpace::Variable => match self.symbols() {
                Ok(s) if s.lookup(name).is_none() => Expect::Absent,
                _ => Expect::FirstDefinition,
            },
            // Functions are named differently in the symbol table when GCC
            // clones them (`foo.isra.0`): DWARF alone decides.
            NameSpace::Function => Expect::FirstDefinition,
            NameSpace::Typedef => match btf {
                Some(b) if !b.has_named(btf::BtfKind::Typedef, name) => Expect::Absent,
                _ => Expect::FirstDefinition,
            },
            // C's base types are a closed vocabulary; BTF may lack some
            // (floating point, with an old pahole), DWARF decides those.
            NameSpace::Base if is_base_type_name(name) => Expect::FirstDefinition,
            NameSpace::Base => match btf {
                Some(b) if !b.has_named(btf::BtfKind::Int, name) => Expect::Absent,
                _ => Expect::FirstDefinition,
            },
            NameSpace::Struct | NameSpace::Union | NameSpace::Enum => {
                let kind = match ns {
                    NameSpace::Struct => btf::BtfKind::Struct,
                    NameSpace::Union => btf::BtfKind::Union,
                    _ => btf::BtfKind::Enum,
                };
                match btf.map(|b| b.definitions(kind, name)) {
                    None | Some(btf::BtfDefinitions::Several) => Expect::FullScan,
                    Some(btf::BtfDefinitions::None) => Expect::Absent,
                    Some(btf::BtfDefinitions::DeclarationOnly) => Expect::FirstDeclaration,
                    Some(btf::BtfDefinitions::One { size }) => Expect::Sized(size),
                }
            }
        }
    }

    /// Find a type by C name: `struct task_struct`, `union thread_union`,
    /// `enum pid_type`, a typedef (`rwlock_t`), a base type (`unsigned int`,
    /// `unsigned long`), or a bare tag name (`task_struct`; typedefs and
    /// base types win over tags). Trailing `*`s make pointer types.
    pub fn find_type(&self, name: &str) -> Result<TypeId> {
        let not_found = || Error::TypeNotFound(name.trim().to_string());
        let mut n = name.trim();
        let mut ptrs = 0;
        while let Some(rest) = n.strip_suffix('*') {
            ptrs += 1;
            n = rest.trim_end();
        }
        let n = n.strip_prefix("const ").unwrap_or(n).trim();
        let mut id = if n == "void" {
            TypeId::VOID
        } else if let Some(btf) = self.btf_only() {
            self.btf_find_type(btf, n).ok_or_else(not_found)?
        } else {
            let (spaces, bare): (&[NameSpace], &str) = if let Some(r) = n.strip_prefix("struct ") {
                (&[NameSpace::Struct], r.trim())
            } else if let Some(r) = n.strip_prefix("union ") {
                (&[NameSpace::Union], r.trim())
            } else if let Some(r) = n.strip_prefix("enum ") {
                (&[NameSpace::Enum], r.trim())
            } else {
                (
                    &[
                        NameSpace::Typedef,
                        NameSpace::Base,
                        NameSpace::Struct,
                        NameSpace::Union,
                        NameSpace::Enum,
                    ],
                    n,
                )
            };
            let canon = canonical_base_name(bare);
            let mut best: Option<dwarf::Hit> = None;
            for &ns in spaces {
                let name = if ns == NameSpace::Base { canon } else { bare };
                if let Some(h) = self.lookup(ns, name)? {
                    if !h.decl {
                        best = Some(h);
                        break;
                    }
                    best.get_or_insert(h);
                }
            }
            TypeId::from_die(best.ok_or_else(not_found)?.die)
        };
        for _ in 0..ptrs {
            id = self.pointer_to(id).ok_or_else(not_found)?;
        }
        Ok(id)
    }

    /// A pointer to `id` (`void *` is not expressible: returns None for void).
    pub fn pointer_to(&self, id: TypeId) -> Option<TypeId> {
        id.add_ptr()
    }

    /// Resolve a type handle. Cached: later calls are a hash lookup.
    pub fn type_of(&self, id: TypeId) -> Result<Arc<Type>> {
        self.type_of_depth(id, 0)
    }

    fn type_of_depth(&self, id: TypeId, depth: u32) -> Result<Arc<Type>> {
        if let Some(t) = self.types.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(t);
        }
        if let Some(btf) = self.btf_only() {
            let t = Arc::new(self.btf_parse_type(btf, id, depth)?);
            if let Ok(mut m) = self.types.write() {
                m.insert(id, t.clone());
            }
            return Ok(t);
        }
        let d = self.dwarf()?;
        let find_def = |tag: u16, name: &str| -> Option<u64> {
            let ns = match gimli::DwTag(tag) {
                gimli::DW_TAG_union_type => NameSpace::Union,
                gimli::DW_TAG_enumeration_type => NameSpace::Enum,
                _ => NameSpace::Struct,
            };
            self.lookup(ns, name)
                .ok()?
                .filter(|h| !h.decl)
                .map(|h| h.die)
        };
        let t = Arc::new(d.parse_type(id, &find_def, depth)?);
        if let Ok(mut m) = self.types.write() {
            m.insert(id, t.clone());
        }
        Ok(t)
    }

    /// The size in bytes of a type (`sizeof`). Errors for void, functions
    /// and incomplete types.
    pub fn sizeof(&self, id: TypeId) -> Result<u64> {
        let mut id = id;
        let mut mult: u64 = 1;
        for _ in 0..MAX_DEPTH {
            let t = self.type_of(id)?;
            let bad = |reason: &str| Error::BadType {
                offset: id.die_offset().unwrap_or(0),
                reason: format!("{} {reason}", self.type_name(id)),
            };
            match &t.kind {
                TypeKind::Void => return Err(bad("has no size")),
                TypeKind::Function { .. } => return Err(bad("is a function type and has no size")),
                TypeKind::Base { size, .. } | TypeKind::Enum { size, .. } => {
                    return Ok(mult.saturating_mul(*size))
                }
                TypeKind::Struct { size, .. } | TypeKind::Union { size, .. } => {
                    if t.incomplete {
                        return Err(bad("is incomplete (only declared in the debug info)"));
                    }
                    return Ok(mult.saturating_mul(*size));
                }
                TypeKind::Pointer { .. } => {
                    let size = match self.btf_only() {
                        Some(_) => 8,
                        None => self.dwarf()?.address_size,
                    };
                    return Ok(mult.saturating_mul(u64::from(size)));
                }
                TypeKind::Typedef { target, .. } => id = *target,
                TypeKind::Const(t) | TypeKind::Volatile(t) => id = *t,
                TypeKind::Array { elem, count } => {
                    mult = mult.saturating_mul(count.unwrap_or(0));
                    id = *elem;
                }
            }
        }
        Err(Error::TypeCycle {
            offset: id.die_offset().unwrap_or(0),
        })
    }

    /// Follow typedefs and const/volatile qualifiers down to the underlying type.
    pub fn strip_typedefs_and_cv(&self, id: TypeId) -> Result<TypeId> {
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            match &self.type_of(id)?.kind {
                TypeKind::Typedef { target, .. } => id = *target,
                TypeKind::Const(t) | TypeKind::Volatile(t) => id = *t,
                _ => return Ok(id),
            }
        }
        Err(Error::TypeCycle {
            offset: id.die_offset().unwrap_or(0),
        })
    }

    /// Resolve a dotted member path inside a struct/union (through
    /// typedefs, qualifiers, anonymous structs/unions and array subscripts
    /// such as `pids[1].node`), giving the offset from the start of `id`.
    /// Pointers are not followed: `signal.nr_threads` on `task_struct`
    /// fails because `signal` is a pointer.
    pub fn member_path(&self, id: TypeId, path: &str) -> Result<MemberInfo> {
        let mut cur = id;
        let mut info = MemberInfo {
            offset: 0,
            bit_offset: None,
            bit_size: None,
            ty: id,
        };
        for comp in path.split('.') {
            let comp = comp.trim();
            let (name, subscripts) = match comp.find('[') {
                Some(i) => (&comp[..i], &comp[i..]),
                None => (comp, ""),
            };
            if !name.is_empty() {
                let sid = self.strip_typedefs_and_cv(cur)?;
                let st = self.type_of(sid)?;
                let bad = |reason: String| Error::BadMemberPath {
                    ty: self.type_name(cur),
                    member: name.to_string(),
                    reason,
                };
                match &st.kind {
                    TypeKind::Struct { .. } | TypeKind::Union { .. } => {}
                    TypeKind::Pointer { .. } => {
                        return Err(bad(
                            "it is a pointer; member_path does not dereference".into()
                        ))
                    }
                    _ => return Err(bad("it is not a struct or union".into())),
                }
                if st.incomplete {
                    return Err(bad("the struct is only declared in the debug info".into()));
                }
                let (off, m) = self
                    .find_member(&st, name, 0)?
                    .ok_or_else(|| Error::NoMember {
                        ty: self.type_name(cur),
                        member: name.to_string(),
                    })?;
                info.offset = info.offset.saturating_add(off);
                info.bit_offset = m.bit_offset;
                info.bit_size = m.bit_size;
                info.ty = m.ty;
                cur = m.ty;
            }
            let mut rest = subscripts;
            while let Some(r) = rest.strip_prefix('[') {
                let close = r.find(']').ok_or_else(|| Error::BadMemberPath {
                    ty: self.type_name(cur),
                    member: comp.to_string(),
                    reason: "unbalanced [".into(),
                })?;
                let idx: u64 = r[..close]
                    .trim()
                    .parse()
                    .map_err(|_| Error::BadMemberPath {
                        ty: self.type_name(cur),
                        member: comp.to_string(),
                        reason: "array index is not a number".into(),
                    })?;
                rest = &r[close + 1..];
                let aid = self.strip_typedefs_and_cv(cur)?;
                let TypeKind::Array { elem, .. } = self.type_of(aid)?.kind else {
                    return Err(Error::BadMemberPath {
                        ty: self.type_name(cur),
                        member: comp.to_string(),
                        reason: "it is not an array".into(),
                    });
                };
                let es = self.sizeof(elem)?;
                info.offset = info.offset.saturating_add(idx.saturating_mul(es));
                info.ty = elem;
                info.bit_offset = None;
                info.bit_size = None;
                cur = elem;
            }
        }
        Ok(info)
    }

    /// Find a member by name, looking inside anonymous struct/union members.
    fn find_member(&self, st: &Type, name: &str, depth: u32) -> Result<Option<(u64, Member)>> {
        if depth > MAX_DEPTH {
            return Err(Error::TypeCycle {
                offset: st.id.die_offset().unwrap_or(0),
            });
        }
        for m in st.members() {
            if m.name.as_deref() == Some(name) {
                return Ok(Some((m.offset, m.clone())));
            }
        }
        for m in st.members() {
            if m.name.is_none() {
                let inner = self.type_of(self.strip_typedefs_and_cv(m.ty)?)?;
                if let Some((off, found)) = self.find_member(&inner, name, depth + 1)? {
                    return Ok(Some((m.offset.saturating_add(off), found)));
                }
            }
        }
        Ok(None)
    }

    /// A C-like name for a type: `struct task_struct *`, `unsigned int`,
    /// `char [16]`, `void (*)(int)`. Unresolvable parts print as `?`.
    pub fn type_name(&self, id: TypeId) -> String {
        self.declarator(id, String::new(), 0)
    }

    /// A C declaration of `name` with type `id`: `char comm[16]`,
    /// `struct list_head *next`, `void (*fn)(int)`.
    pub fn declaration(&self, id: TypeId, name: &str) -> String {
        self.declarator(id, name.to_string(), 0)
    }

    fn declarator(&self, id: TypeId, inner: String, depth: u32) -> String {
        let join = |base: String, inner: &str| {
            if inner.is_empty() {
                base
            } else {
                format!("{base} {inner}")
            }
        };
        if depth > MAX_DEPTH {
            return join("?".into(), &inner);
        }
        let Ok(t) = self.type_of(id) else {
            return join("?".into(), &inner);
        };
        let tag = |kw: &str, name: &Option<String>| match name {
            Some(n) => format!("{kw} {n}"),
            None => format!("{kw} <anonymous>"),
        };
        match &t.kind {
            TypeKind::Void => join("void".into(), &inner),
            TypeKind::Base { name, .. } | TypeKind::Typedef { name, .. } => {
                join(name.clone(), &inner)
            }
            TypeKind::Struct { name, .. } => join(tag("struct", name), &inner),
            TypeKind::Union { name, .. } => join(tag("union", name), &inner),
            TypeKind::Enum { name, .. } => join(tag("enum", name), &inner),
            TypeKind::Pointer { target } => self.pointer_declarator(*target, "*", inner, depth),
            TypeKind::Const(q_target) | TypeKind::Volatile(q_target) => {
                let q = if matches!(t.kind, TypeKind::Const(_)) {
                    "const"
                } else {
                    "volatile"
                };
                let t = q_target;
                let target = self.type_of(*t).ok();
                if let Some(TypeKind::Pointer { target: pt }) = target.as_ref().map(|x| &x.kind) {
                    let star = format!("* {q}");
                    self.pointer_declarator(*pt, &star, inner, depth)
                } else {
                    format!("{q} {}", self.declarator(*t, inner, depth + 1))
                }
            }
            TypeKind::Array { elem, count } => {
                let dim = match count {
                    Some(c) => format!("[{c}]"),
                    None => "[]".into(),
                };
                self.declarator(*elem, format!("{inner}{dim}"), depth + 1)
            }
            TypeKind::Function {
                ret,
                params,
                variadic,
            } => {
                let mut ps: Vec<String> = params
                    .iter()
                    .map(|p| self.declarator(*p, String::new(), depth + 1))
                    .collect();
                if *variadic {
                    ps.push("...".into());
                }
                if ps.is_empty() {
                    ps.push("void".into());
                }
                self.declarator(*ret, format!("{inner}({})", ps.join(", ")), depth + 1)
            }
        }
    }

    fn pointer_declarator(&self, target: TypeId, star: &str, inner: String, depth: u32) -> String {
        let needs_parens = matches!(
            self.type_of(target).map(|t| t.kind.clone()),
            Ok(TypeKind::Array { .. } | TypeKind::Function { .. })
        );
        let sep = if inner.is_empty() || star.ends_with('*') {
            ""
        } else {
            " "
        };
        let inner = format!("{star}{sep}{inner}");
        let inner = if needs_parens {
            format!("({inner})")
        } else {
            inner
        };
        self.declarator(target, inner, depth + 1)
    }

    /// A global variable (prefers a definition over an `extern` declaration).
    pub fn variable(&self, name: &str) -> Result<Variable> {
        if let Some(btf) = self.btf_only() {
            return self.btf_variable(btf, name);
        }
        let hit = self
            .lookup(NameSpace::Variable, name)?
            .ok_or_else(|| Error::VariableNotFound(name.to_string()))?;
        self.dwarf()?.parse_variable(hit.die, name, hit.decl)
    }

    /// The type of a global variable (`tasklist_lock` → `rwlock_t`).
    pub fn variable_type(&self, name: &str) -> Result<TypeId> {
        Ok(self.variable(name)?.ty)
    }

    /// The type of a function (a [`TypeKind::Function`]).
    pub fn function_type(&self, name: &str) -> Result<TypeId> {
        if let Some(btf) = self.btf_only() {
            return btf
                .ids()
                .find(|&i| {
                    btf.kind(i) == Some(btf::BtfKind::Func) && btf.name(i).as_deref() == Some(name)
                })
                .map(|i| TypeId::from_die(u64::from(i)))
                .ok_or_else(|| Error::TypeNotFound(format!("function {name}")));
        }
        let hit = self
            .lookup(NameSpace::Function, name)?
            .ok_or_else(|| Error::TypeNotFound(format!("function {name}")))?;
        Ok(TypeId::from_die(hit.die))
    }

    /// The value of an enumerator of a named enum (`enum pid_type`, `PIDTYPE_TGID`).
    pub fn enumerator_value(&self, enum_type: &str, enumerator: &str) -> Result<i64> {
        let id = self.strip_typedefs_and_cv(self.find_type(enum_type)?)?;
        let t = self.type_of(id)?;
        if let TypeKind::Enum { enumerators, .. } = &t.kind {
            if let Some((_, v)) = enumerators.iter().find(|(n, _)| n == enumerator) {
                return Ok(*v);
            }
        }
        Err(Error::NoMember {
            ty: enum_type.to_string(),
            member: enumerator.to_string(),
        })
    }
}

/// Where per-build tables are cached: `$VMTRIAGE_INDEX_CACHE`, else
/// `$XDG_CACHE_HOME/vmtriage/index` or `~/.cache/vmtriage/index`. The
/// variable set to `off`, `0`, `no`, `false`, `none` (in any case) or to
/// nothing disables the cache: each of these means it, and none is a
/// directory anyone means to create in the current directory.
pub(crate) fn cache_dir() -> Option<std::path::PathBuf> {
    match std::env::var_os("VMTRIAGE_INDEX_CACHE") {
        Some(v) if cache_disabled(&v) => None,
        Some(v) => Some(std::path::PathBuf::from(v)),
        None => Some(
            std::env::var_os("XDG_CACHE_HOME")
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache"))
                })?
                .join("vmtriage/index"),
        ),
    }
}

/// Whether a `VMTRIAGE_INDEX_CACHE` value turns the cache off.
fn cache_disabled(v: &std::ffi::OsStr) -> bool {
    let v = v.to_string_lossy();
    let v = v.trim();
    v.is_empty()
        || ["off", "0", "no", "false", "none"]
            .iter()
            .any(|w| v.eq_ignore_ascii_case(w))
}

/// GCC spells some base types differently from what people type.
fn canonical_base_name(n: &str) -> &str {
    match n {
        "unsigned" => "unsigned int",
        "signed" | "signed int" => "int",
        "long" | "signed long" | "long signed int" => "long int",
        "unsigned long" | "unsigned long int" => "long unsigned int",
        "short" | "signed short" | "short signed int" => "short int",
        "unsigned short" | "unsigned short int" => "short unsigned int",
        "long long" | "signed long long" => "long long int",
        "unsigned long long" | "unsigned long long int" => "long long unsigned int",
        "bool" => "_Bool",
        other => other,
    }
}

/// Entry points for the fuzz targets in `fuzz/` into parsers that are not
/// public on their own. Not a stable API.
#[doc(hidden)]
pub mod fuzz {
    /// Loads `bytes` as a persisted name index (see `dwarf::fuzz_index_cache`);
    /// the number of names loaded.
    pub fn index_cache(bytes: &[u8]) -> Option<usize> {
        crate::dwarf::fuzz_index_cache(bytes)
    }
}

#[cfg(test)]
mod assert_traits {
    fn send_sync<T: Send + Sync>() {}
    #[test]
    fn kernel_debug_info_is_send_sync() {
        send_sync::<super::KernelDebugInfo>();
        send_sync::<super::Type>();
    }
}

/// The integration tests' corpus helpers, for the unit tests too.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_corpus;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_units_find_the_innermost_covering_unit() {
        let map = CodeUnits::new(vec![
            (0x300, 0x310, 3),
            (0x100, 0x200, 1),
            (0x180, 0x190, 2),
        ]);
        assert_eq!(map.unit_at(0x100), Some(1));
        assert_eq!(map.unit_at(0x185), Some(2));
        assert_eq!(map.unit_at(0x1a0), Some(1)); // past the nested range
        assert_eq!(map.unit_at(0x200), None);
        assert_eq!(map.unit_at(0x30f), Some(3));
        assert_eq!(map.unit_at(0x50), None);
        assert_eq!(CodeUnits::default().unit_at(0x100), None);
        assert_eq!(map.units().len(), 3);
    }

    use crate::test_corpus::corpus_vmlinuxes;

    /// Lookups trust BTF to say that a type name does not exist (no scan):
    /// on every corpus kernel, every type name DWARF has is known to BTF.
    #[test]
    fn btf_knows_every_dwarf_type_name() {
        for path in corpus_vmlinuxes() {
            let k = KernelDebugInfo::open(&path).unwrap();
            let ix = k.index().unwrap();
            ix.complete(k.dwarf().unwrap());
            let mut checked = 0;
            for (ns, name) in ix.names() {
                if matches!(ns, NameSpace::Variable | NameSpace::Function) {
                    continue;
                }
                checked += 1;
                assert_ne!(
                    k.expect(ns, &name),
                    dwarf::Expect::Absent,
                    "{}: {ns:?} {name} is in DWARF but not in BTF",
                    path.display()
                );
            }
            assert!(checked > 5000, "{}: {checked} names", path.display());
        }
    }
}
