//! Debug information from a plain kernel image: the non-debug `vmlinux` of
//! a build, or a `vmlinuz` turned back into the vmlinux it carries
//! ([`crate::bzimage`]). Both have the build's `.BTF` (types), ORC tables
//! (unwinding) and build-id note; no DWARF.
//!
//! A vmlinux with a symbol table is used as it is (ELF symbols). One
//! without (what a vmlinuz unpacks to: `objcopy -S`) still holds the
//! kallsyms tables in its data: they are found and decoded by the same
//! code that reads them from a dump's memory (`memory.rs`), through a
//! reader of the file at link-time addresses (a KASLR offset of 0), and
//! written into the same small image (`.symtab`, `.BTF`, ORC, the banner,
//! counted tables), cached per build-id (`BUILDID.file.elf`).
//!
//! The file must be the dump's kernel: its build-id note is checked against
//! the dump's (VMCOREINFO's `BUILD-ID`, else the build-id note in the dump's
//! memory where the file's `.notes` section lies) before it is used.

use std::path::Path;

use crate::bzimage::{self, Compression};
use crate::error::{Error, Result};
use crate::memory::{self, DumpKernel, ReadMemory};
use crate::KernelDebugInfo;

/// What a file image says of itself (a note of the image).
const FILEIMAGE_NOTE: &[u8] = b"vmtriage file image v1";

const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// What a kernel file is, from its headers (nothing decompressed yet).
struct Sniffed {
    map: memmap2::Mmap,
    /// `vmlinux` or `vmlinuz`.
    kind: &'static str,
    /// How it is compressed (`lz4`…), if it is.
    method: Option<&'static str>,
    /// The release a vmlinuz's setup header names.
    release: Option<String>,
    /// Where the compressed kernel lies in the file (none for an ELF file).
    packed: Option<std::ops::Range<usize>>,
}

/// Reads a kernel file's headers: an ELF vmlinux, a bzImage, a compressed
/// vmlinux (`vmlinux-RELEASE.gz`).
fn sniff(path: &Path) -> Result<Sniffed> {
    let bad = |reason: String| Error::BadKernelImage {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = crate::file::open_input(path)?;
    // SAFETY: read-only map of a file this process does not write (as in
    // `KernelDebugInfo::open`).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    let (kind, method, release, packed) = if map.starts_with(b"\x7fELF") {
        ("vmlinux", None, None, None)
    } else if bzimage::is_bzimage(&map) {
        let b = bzimage::parse(&map).map_err(|m| bad(format!("a bad bzImage (vmlinuz): {m}")))?;
        let method = b
            .compression
            .map_or("unknown compression", Compression::name);
        let release = b
            .version
            .as_deref()
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_string);
        let start = b.payload.as_ptr() as usize - map.as_ptr() as usize;
        let range = start..start + b.payload.len();
        ("vmlinuz", Some(method), release, Some(range))
    } else if let Some(c) = Compression::of(&map) {
        ("vmlinux", Some(c.name()), None, Some(0..map.len()))
    } else {
        return Err(bad(
            "neither an ELF vmlinux nor an x86 bzImage (vmlinuz), nor a compressed vmlinux".into(),
        ));
    };
    Ok(Sniffed {
        map,
        kind,
        method,
        release,
        packed,
    })
}

/// The ELF file a sniffed kernel file is or holds: mapped, or decompressed.
fn unpack(path: &Path, s: Sniffed) -> Result<KernelDebugInfo> {
    let bad = |reason: String| Error::BadKernelImage {
        path: path.to_path_buf(),
        reason,
    };
    let elf_err = |e: Error| match e {
        Error::BadElf { reason, .. } => bad(format!("not a valid ELF file ({reason})")),
        other => other,
    };
    let Some(range) = s.packed else {
        drop(s.map);
        return KernelDebugInfo::open(path).map_err(elf_err);
    };
    let raw = bzimage::decompress(&s.map[range], bzimage::MAX_VMLINUX).map_err(&bad)?;
    if !raw.starts_with(b"\x7fELF") {
        return Err(bad(format!(
            "the {} unpacked to {} bytes that are not an ELF vmlinux",
            s.kind,
            raw.len()
        )));
    }
    KernelDebugInfo::from_bytes(path, raw).map_err(elf_err)
}

/// A file's identity as the bulk scanner tells an unchanged file: device,
/// inode, size and modification time.
fn identity(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{} {} {} {}.{:09}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// The files already found to be of a build, by identity
/// (`BUILDID.file.ids` beside its image): a vmlinuz opened again is not
/// decompressed again to read its build-id.
fn known_files(build_id: &[u8]) -> (Option<std::path::PathBuf>, Vec<String>) {
    let p = memory::image_cache_path(build_id, "file.ids");
    let lines = p
        .as_deref()
        // 32 lines of identities (see `remember_file`).
        .and_then(|p| crate::file::read_capped(p, 64 << 10))
        .and_then(|b| String::from_utf8(b).ok())
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default();
    (p, lines)
}

/// Records that a file is of a build (at most the 32 latest files).
fn remember_file(path: &Path, build_id: &[u8]) {
    let (Some(p), mut lines) = known_files(build_id) else {
        return;
    };
    let Some(id) = identity(path) else {
        return;
    };
    if lines.contains(&id) {
        return;
    }
    lines.push(id);
    let keep = lines.len().saturating_sub(32);
    memory::store_image(&p, (lines[keep..].join("\n") + "\n").as_bytes());
}

/// Reads a file's allocated sections at link-time addresses, as the kernel
/// image lies in memory: the padding between two sections reads as zeros;
/// `.bss` (no file bytes) and anything outside the image are errors.
struct FileReader<'a> {
    k: &'a KernelDebugInfo,
    /// (start, end, has file bytes) of the allocated sections, by start.
    spans: Vec<(u64, u64, bool)>,
}

impl<'a> FileReader<'a> {
    fn new(k: &'a KernelDebugInfo) -> FileReader<'a> {
        let mut spans: Vec<(u64, u64, bool)> = k
            .sections()
            .iter()
            .filter(|s| s.flags & 2 != 0 && s.addr >= START_KERNEL_MAP && s.size > 0)
            .map(|s| (s.addr, s.addr.saturating_add(s.size), !s.is_nobits()))
            .collect();
        spans.sort_unstable();
        FileReader { k, spans }
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> std::result::Result<(), String> {
        let len = buf.len();
        let outside = || format!("{addr:#x}+{len:#x} is not in the file's image");
        let (lo, hi) = match (self.spans.first(), self.spans.iter().map(|s| s.1).max()) {
            (Some(f), Some(hi)) => (f.0, hi),
            _ => return Err(outside()),
        };
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.checked_add(done as u64).ok_or_else(outside)?;
            if a < lo || a >= hi {
                return Err(outside());
            }
            let want = buf.len() - done;
            if let Some(&(_, end, bytes)) = self.spans.iter().rev().find(|s| s.0 <= a && a < s.1) {
                if !bytes {
                    return Err(format!(
                        "{a:#x} is in a section without file contents (.bss)"
                    ));
                }
                let n = want.min((end - a) as usize);
                let b = self
                    .k
                    .read_link_addr(a, n)
                    .filter(|b| b.len() == n)
                    .ok_or_else(outside)?;
                buf[done..done + n].copy_from_slice(b);
                done += n;
            } else {
                // Padding up to the next section.
                let next = self
                    .spans
                    .iter()
                    .map(|s| s.0)
                    .filter(|&s| s > a)
                    .min()
                    .unwrap_or(hi);
                let n = want.min((next - a) as usize);
                buf[done..done + n].fill(0);
                done += n;
            }
        }
        Ok(())
    }
}

/// The build-id in the dump: VMCOREINFO's, else the note in its memory
/// where the file's `.notes` section lies (the same kernel has it there).
fn dump_build_id(
    file: &KernelDebugInfo,
    dump: &DumpKernel<'_>,
    read_dump: ReadMemory<'_>,
) -> Option<Vec<u8>> {
    if let Some(id) = dump.build_id {
        return Some(id.to_vec());
    }
    let notes = file.sections().iter().find(|s| {
        s.sh_type == 7 && s.flags & 2 != 0 && s.addr >= START_KERNEL_MAP && s.size <= 1 << 16
    })?;
    let mut buf = vec![0u8; notes.size as usize];
    read_dump(notes.addr.wrapping_add(dump.kaslr_offset), &mut buf).ok()?;
    crate::elf::find_gnu_build_id(&buf, true).map(<[u8]>::to_vec)
}

impl KernelDebugInfo {
    /// Debug information from a plain kernel image file (a vmlinux without
    /// DWARF, a vmlinuz, a compressed vmlinux) of the dump's kernel: types
    /// from its BTF, unwind tables from its ORC, symbols from its symbol
    /// table or, in a file without one, from its kallsyms tables. `dump`
    /// is what the dump's VMCOREINFO says (the kallsyms tables' addresses
    /// and `_stext` are taken from it, less its KASLR offset), `read_dump`
    /// reads the dump's memory (only to find its build-id when VMCOREINFO
    /// has none). A file of another build is refused
    /// ([`Error::ImageBuildIdMismatch`]). A file with DWARF is returned
    /// as it is, once its build-id is checked.
    pub fn from_kernel_file(
        path: impl AsRef<Path>,
        dump: &DumpKernel<'_>,
        read_dump: ReadMemory<'_>,
    ) -> Result<KernelDebugInfo> {
        Self::from_kernel_file_in(path.as_ref(), dump, read_dump, true)
    }

    /// [`KernelDebugInfo::from_kernel_file`], with or without the cache.
    fn from_kernel_file_in(
        path: &Path,
        dump: &DumpKernel<'_>,
        read_dump: ReadMemory<'_>,
        use_cache: bool,
    ) -> Result<KernelDebugInfo> {
        let d = Self::kernel_file_image(path, dump, read_dump, use_cache)?;
        d.declare_globals(dump.globals);
        Ok(d)
    }

    fn kernel_file_image(
        path: &Path,
        dump: &DumpKernel<'_>,
        read_dump: ReadMemory<'_>,
        use_cache: bool,
    ) -> Result<KernelDebugInfo> {
        let bad = |reason: String| Error::BadKernelImage {
            path: path.to_path_buf(),
            reason,
        };
        let sniffed = sniff(path)?;
        let (kind, method, release) = (sniffed.kind, sniffed.method, sniffed.release.clone());
        let described = |what: &str| {
            let m = method.map(|m| format!(", {m}")).unwrap_or_default();
            format!(
                "{} (a {kind}{m}: {what}; no line numbers, inline frames or frame variables)",
                path.display()
            )
        };
        let from_kallsyms = "symbols from its kallsyms tables, BTF and ORC";
        // A file already found to be of the dump's build, unchanged since,
        // whose image is cached: neither decompressed nor read again.
        let cached = |id: &[u8]| {
            let p = memory::image_cache_path(id, "file.elf")?;
            memory::load_cached(&p, id, KernelDebugInfo::is_file_image)
        };
        if let Some(id) = dump.build_id.filter(|_| use_cache) {
            let known = identity(path).is_some_and(|i| known_files(id).1.contains(&i));
            if let Some(d) = known.then(|| cached(id)).flatten() {
                d.set_origin(described(from_kallsyms));
                return Ok(d);
            }
        }
        let elf = unpack(path, sniffed)?;
        if !elf.is_64bit_le() || elf.machine() != 62 {
            return Err(bad(format!(
                "the {kind} is an ELF file for machine {}, not an x86-64 kernel",
                elf.machine()
            )));
        }
        // The build-id first: nothing else is worth reading from a wrong file.
        let file_id = elf.build_id().map(<[u8]>::to_vec).ok_or_else(|| {
            bad(format!(
                "the {kind} has no build-id note (NT_GNU_BUILD_ID), so it cannot be checked \
                 against the dump"
            ))
        })?;
        let dump_id = dump_build_id(&elf, dump, read_dump).ok_or_else(|| {
            bad(
                "the dump names no build-id (VMCOREINFO has no BUILD-ID and its memory holds \
                 no build-id note where the file's is), so the file cannot be checked against it"
                    .into(),
            )
        })?;
        if dump_id.is_empty() || !file_id.starts_with(&dump_id) {
            return Err(Error::ImageBuildIdMismatch {
                path: path.to_path_buf(),
                dump: crate::to_hex(&dump_id),
                file: match release.or_else(|| elf.release()) {
                    Some(r) => format!("{} ({r})", crate::to_hex(&file_id)),
                    None => crate::to_hex(&file_id),
                },
            });
        }
        if elf.has_dwarf() {
            elf.prepare();
            return Ok(elf);
        }
        let usable = |k: &KernelDebugInfo, what: &str| -> Result<()> {
            if k.btf().is_none() {
                return Err(bad(format!(
                    "the {what} has no .BTF (the kernel was built without CONFIG_DEBUG_INFO_BTF), \
                     and without BTF there are no types"
                )));
            }
            if k.section(".orc_unwind_ip").is_none() || k.section(".orc_unwind").is_none() {
                return Err(bad(format!(
                    "the {what} has no ORC unwind tables (CONFIG_UNWINDER_ORC), so no stack \
                     could be unwound"
                )));
            }
            Ok(())
        };
        if elf.symbols().is_ok_and(|s| !s.is_empty()) {
            usable(&elf, kind)?;
            elf.set_origin(described("without DWARF; ELF symbols, BTF and ORC"));
            return Ok(elf);
        }
        // No symbol table: the image of the file's kallsyms, BTF and ORC.
        let origin = described(from_kallsyms);
        if let Some(d) = use_cache.then(|| cached(&file_id)).flatten() {
            remember_file(path, &file_id);
            d.set_origin(origin);
            return Ok(d);
        }
        let cache = use_cache
            .then(|| memory::image_cache_path(&file_id, "file.elf"))
            .flatten();
        let reader = FileReader::new(&elf);
        let read = |a: u64, b: &mut [u8]| reader.read(a, b);
        let text = elf.section(".text").map(|s| s.addr);
        let symbol = |n: &str| match (dump.symbol)(n) {
            Some(v) if v >= START_KERNEL_MAP => Some(v.wrapping_sub(dump.kaslr_offset)),
            Some(v) => Some(v),
            None if n == "_stext" => text,
            None => None,
        };
        let k = DumpKernel {
            release: dump.release,
            build_id: Some(&file_id),
            kaslr_offset: 0,
            symbol: &symbol,
            globals: dump.globals,
        };
        let bytes = memory::build_image_marked(&read, &k, FILEIMAGE_NOTE).map_err(|e| match e {
            Error::NoDebugInfoInDump(m) => bad(format!("in the {kind}: {m}")),
            other => other,
        })?;
        let d = KernelDebugInfo::from_bytes(path, bytes)?;
        usable(&d, kind)?;
        if !d.symbols().is_ok_and(|s| s.lookup("_text").is_some()) {
            return Err(bad(format!(
                "the kallsyms tables of the {kind} name no _text"
            )));
        }
        if let Some(p) = &cache {
            memory::store_image(p, d.elf.data);
            remember_file(path, &file_id);
        }
        d.set_origin(origin);
        Ok(d)
    }

    /// Whether this was made from a plain kernel file's kallsyms, BTF and
    /// ORC ([`KernelDebugInfo::from_kernel_file`] on a file without a
    /// symbol table).
    pub fn is_file_image(&self) -> bool {
        self.section(".notes")
            .is_some_and(|s| memory::has_marker(s.data, FILEIMAGE_NOTE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bzimage::tests::{bzimage, lz4_payload};
    use crate::memory::tests::{image, syms, BASE};
    use crate::memory::{note, write_elf, SectionOut};

    /// A BTF blob with no types.
    fn empty_btf() -> Vec<u8> {
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for v in [24u32, 0, 0, 0, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.push(0);
        b
    }

    fn alloc(name: &'static str, addr: u64, data: Vec<u8>) -> SectionOut {
        SectionOut {
            name,
            sh_type: 1,
            flags: 2,
            addr,
            data,
            link: 0,
            entsize: 0,
        }
    }

    /// A stripped x86-64 vmlinux: the kallsyms tables of `memory`'s tests
    /// after 1 MiB of text (naming the sections below), `.BTF`, ORC, the
    /// banner and a build-id note.
    fn stripped_vmlinux(build_id: &[u8]) -> Vec<u8> {
        let at = |i: u64| BASE + 0x40_0000 + i * 0x1000;
        let (btf, banner) = (empty_btf(), b"Linux version 6.1.0-99-test (x)\0".to_vec());
        let mut s = syms(2000);
        for (n, k, a) in [
            ("_text", 'T', BASE),
            ("_stext", 'T', BASE),
            ("_etext", 'T', BASE + 0x10_0000),
            ("__start_BTF", 'R', at(0)),
            ("__stop_BTF", 'R', at(0) + btf.len() as u64),
            ("__start_orc_unwind_ip", 'R', at(1)),
            ("__stop_orc_unwind_ip", 'R', at(1) + 8),
            ("__start_orc_unwind", 'R', at(2)),
            ("linux_banner", 'R', at(4)),
        ] {
            s.push((n.to_string(), k, a));
        }
        let names: Vec<(&str, char, u64)> =
            s.iter().map(|(n, k, a)| (n.as_str(), *k, *a)).collect();
        let (m, _) = image(&names);
        assert!(BASE + (m.len() as u64) < at(0));
        write_elf(&[
            alloc(".text", BASE, m),
            alloc(".BTF", at(0), btf),
            alloc(".orc_unwind_ip", at(1), vec![0; 8]),
            alloc(".orc_unwind", at(2), vec![0; 12]),
            SectionOut {
                sh_type: 7,
                ..alloc(".notes", at(3), note(b"GNU", 3, build_id))
            },
            alloc(".rodata", at(4), banner),
        ])
    }

    fn tmp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("kdebuginfo-plain-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn open(path: &Path, dump_id: Option<&[u8]>) -> Result<KernelDebugInfo> {
        let none = |_: &str| None;
        let k = DumpKernel {
            release: "6.1.0-99-test",
            build_id: dump_id,
            kaslr_offset: 0x1000_0000,
            symbol: &none,
            globals: &[],
        };
        let nothing = |_: u64, _: &mut [u8]| Err("no memory".to_string());
        KernelDebugInfo::from_kernel_file_in(path, &k, &nothing, false)
    }

    #[test]
    fn a_vmlinuz_gives_the_kallsyms_symbols_at_link_time() {
        let id = [0xab; 20];
        let vmlinux = stripped_vmlinux(&id);
        let p = tmp("vmlinuz-ok", &bzimage(&lz4_payload(&vmlinux)));
        let d = open(&p, Some(&id)).unwrap();
        assert!(d.is_file_image() && !d.is_from_memory() && !d.has_dwarf());
        let f = d.symbol("func_7").unwrap();
        assert_eq!(f.addr, BASE + 112);
        assert!(d
            .source_description()
            .contains("(a vmlinuz, lz4: symbols from its kallsyms"));
        // The same from the uncompressed file, and a prefix of the id.
        let q = tmp("vmlinux-ok", &vmlinux);
        let e = open(&q, Some(&id[..8])).unwrap();
        assert_eq!(e.symbol("func_7").unwrap().addr, BASE + 112);
    }

    #[test]
    fn another_build_is_refused() {
        let vmlinux = stripped_vmlinux(&[0xab; 20]);
        let p = tmp("vmlinuz-other", &bzimage(&lz4_payload(&vmlinux)));
        let e = open(&p, Some(&[0xcd; 20])).unwrap_err();
        assert!(matches!(e, Error::ImageBuildIdMismatch { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("cdcdcd") && msg.contains("abab") && msg.contains("6.1.0-99-test"));
        // No build-id in the dump, and none readable in its memory.
        let e = open(&p, None).unwrap_err();
        assert!(e.to_string().contains("cannot be checked"), "{e}");
        // No build-id in the file.
        let q = tmp(
            "vmlinux-noid",
            &write_elf(&[alloc(".text", BASE, vec![0; 64])]),
        );
        let e = open(&q, Some(&[0xab; 20])).unwrap_err();
        assert!(e.to_string().contains("no build-id note"), "{e}");
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        let id = [0xab; 20];
        let vmlinux = stripped_vmlinux(&id);
        let good = bzimage(&lz4_payload(&vmlinux));
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", Vec::new(), "neither an ELF"),
            ("text", b"hello world\n".repeat(100), "neither an ELF"),
            ("short", good[..0x300].to_vec(), "past the end"),
            (
                "not-elf",
                bzimage(&lz4_payload(&[7u8; 5000])),
                "not an ELF vmlinux",
            ),
            (
                "bad-elf",
                b"\x7fELF\x02\x01\x01".to_vec(),
                "not a valid ELF",
            ),
            (
                "no-kallsyms",
                write_elf(&[
                    alloc(".text", BASE, vec![0; 64]),
                    SectionOut {
                        sh_type: 7,
                        ..alloc(".notes", BASE + 0x1000, note(b"GNU", 3, &id))
                    },
                ]),
                "no kallsyms tables",
            ),
        ];
        for (name, bytes, want) in cases {
            let p = tmp(name, &bytes);
            let e = open(&p, Some(&id)).unwrap_err().to_string();
            assert!(e.contains(want), "{name}: {e}");
        }
        // Cut anywhere before the payload's end (100 bytes of padding follow).
        for n in (0..good.len() - 100).step_by(good.len() / 40) {
            let p = tmp("cut", &good[..n]);
            assert!(open(&p, Some(&id)).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn the_file_reader_reads_padding_as_zeros_and_nothing_else() {
        let id = [1u8; 20];
        let k = KernelDebugInfo::from_bytes("x", stripped_vmlinux(&id)).unwrap();
        let r = FileReader::new(&k);
        let text_end = k
            .section(".text")
            .map(|s| s.addr + s.data.len() as u64)
            .unwrap();
        let mut b = vec![0xffu8; 32];
        r.read(text_end - 16, &mut b).unwrap();
        assert!(b[16..].iter().all(|&c| c == 0));
        assert!(r.read(BASE - 8, &mut b).is_err());
        assert!(r.read(u64::MAX - 8, &mut b).is_err());
    }
}
