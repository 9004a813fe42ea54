//! End-to-end tests on synthetic dumps built here: ELF cores, kdump-compressed
//! files in every compression, and flattened streams of both.

use std::io::Write;

use vmcore::{Compression, DumpFormat, ReadError, Vmcore, VmcoreError};

// ---------------------------------------------------------------- helpers

fn note(name: &[u8], t: u32, desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
    v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    v.extend_from_slice(&t.to_le_bytes());
    v.extend_from_slice(name);
    v.push(0);
    pad4(&mut v);
    v.extend_from_slice(desc);
    pad4(&mut v);
    v
}

fn pad4(v: &mut Vec<u8>) {
    while v.len() & 3 != 0 {
        v.push(0);
    }
}

/// An x86_64 `elf_prstatus` with the given pid and rip = `rip`, rsp = rip+1.
fn prstatus(pid: u32, rip: u64) -> Vec<u8> {
    let mut d = vec![0u8; 336];
    d[32..36].copy_from_slice(&pid.to_le_bytes());
    let reg = |d: &mut Vec<u8>, i: usize, v: u64| {
        d[112 + 8 * i..120 + 8 * i].copy_from_slice(&v.to_le_bytes())
    };
    reg(&mut d, 16, rip);
    reg(&mut d, 19, rip + 1);
    d
}

const VMCOREINFO: &[u8] =
    b"OSRELEASE=6.1.0-test\nBUILD-ID=00112233445566778899aabbccddeeff00112233\n\
PAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffffff82a0a000\nNUMBER(phys_base)=16777216\n\
KERNELOFFSET=2a000000\n";

fn standard_notes() -> Vec<u8> {
    let mut n = note(b"CORE", 1, &prstatus(0, 0x1000));
    n.extend(note(b"CORE", 1, &prstatus(77, 0x2000)));
    n.extend(note(b"VMCOREINFO", 0, VMCOREINFO));
    n
}

/// Deterministic page content for a pfn.
fn page_content(pfn: u64, size: usize) -> Vec<u8> {
    let mut x = (pfn as u32).wrapping_mul(2654435761).wrapping_add(1);
    (0..size)
        .map(|i| {
            if (i / 64) % 2 == 0 {
                // Compressible half.
                (pfn as u8).wrapping_add((i / 128) as u8)
            } else {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            }
        })
        .collect()
}

struct Load {
    paddr: u64,
    data: Vec<u8>,
    memsz: u64,
}

fn build_elf(loads: &[Load], notes: &[u8], ehsize: u16, e_type: u16) -> Vec<u8> {
    let phnum = loads.len() + 1;
    let mut v = vec![0u8; 64];
    v[..4].copy_from_slice(b"\x7fELF");
    v[4] = 2; // 64-bit
    v[5] = 1; // little-endian
    v[6] = 1;
    v[16..18].copy_from_slice(&e_type.to_le_bytes());
    v[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86_64
    v[20..24].copy_from_slice(&1u32.to_le_bytes());
    v[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    v[52..54].copy_from_slice(&ehsize.to_le_bytes());
    v[54..56].copy_from_slice(&56u16.to_le_bytes());
    v[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
    let mut off = 64 + 56 * phnum as u64;
    let mut phdrs = Vec::new();
    let ph = |t: u32, off: u64, paddr: u64, filesz: u64, memsz: u64| {
        let mut p = vec![0u8; 56];
        p[0..4].copy_from_slice(&t.to_le_bytes());
        p[8..16].copy_from_slice(&off.to_le_bytes());
        p[16..24].copy_from_slice(&(paddr | 0xffff_8880_0000_0000).to_le_bytes());
        p[24..32].copy_from_slice(&paddr.to_le_bytes());
        p[32..40].copy_from_slice(&filesz.to_le_bytes());
        p[40..48].copy_from_slice(&memsz.to_le_bytes());
        p
    };
    phdrs.extend(ph(4, off, 0, notes.len() as u64, 0));
    off += notes.len() as u64;
    for l in loads {
        phdrs.extend(ph(1, off, l.paddr, l.data.len() as u64, l.memsz));
        off += l.data.len() as u64;
    }
    v.extend(phdrs);
    v.extend_from_slice(notes);
    for l in loads {
        v.extend_from_slice(&l.data);
    }
    v
}

#[derive(Clone)]
enum Page {
    /// Stored with the given page_desc flags (0 = uncompressed).
    Data(u32),
    /// Valid RAM but filtered out (1st bitmap only).
    Excluded,
    /// All zeros, sharing one descriptor.
    Zero,
}

const ZLIB: u32 = 1;
const LZO: u32 = 2;
const SNAPPY: u32 = 4;
const ZSTD: u32 = 0x20;

fn compress(flags: u32, data: &[u8]) -> Vec<u8> {
    match flags {
        0 => data.to_vec(),
        ZLIB => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        LZO => lzokay_native::compress(data).unwrap(),
        SNAPPY => snap::raw::Encoder::new().compress_vec(data).unwrap(),
        ZSTD => zstd::bulk::compress(data, 1).unwrap(),
        _ => unreachable!(),
    }
}

struct KdumpSpec {
    block_size: u32,
    max_mapnr: u64,
    header_version: u32,
    status: u32,
    pages: Vec<(u64, Page)>,
    /// ELF notes in the sub-header (version 4+).
    notes: Vec<u8>,
    /// VMCOREINFO text in the sub-header (version 3+).
    vmcoreinfo: Vec<u8>,
}

impl KdumpSpec {
    fn new(status: u32, pages: Vec<(u64, Page)>) -> KdumpSpec {
        KdumpSpec {
            block_size: 4096,
            max_mapnr: 64,
            header_version: 6,
            status,
            pages,
            notes: standard_notes(),
            vmcoreinfo: VMCOREINFO.to_vec(),
        }
    }

    fn build(&self) -> Vec<u8> {
        let bs = self.block_size as usize;
        let mut f = vec![0u8; bs];
        f[..8].copy_from_slice(b"KDUMP   ");
        f[8..12].copy_from_slice(&self.header_version.to_le_bytes());
        let uts = [
            "Linux",
            "testhost",
            "6.1.0-test",
            "#1 SMP",
            "x86_64",
            "(none)",
        ];
        for (i, s) in uts.iter().enumerate() {
            f[12 + 65 * i..12 + 65 * i + s.len()].copy_from_slice(s.as_bytes());
        }
        f[408..416].copy_from_slice(&1_700_000_000u64.to_le_bytes());
        f[424..428].copy_from_slice(&self.status.to_le_bytes());
        f[428..432].copy_from_slice(&self.block_size.to_le_bytes());
        let sub_hdr_size = 2u32;
        f[432..436].copy_from_slice(&sub_hdr_size.to_le_bytes());
        let bitmap_bytes = (self.max_mapnr as usize).div_ceil(8).div_ceil(bs) * bs;
        let bitmap_blocks = (2 * bitmap_bytes / bs) as u32;
        f[436..440].copy_from_slice(&bitmap_blocks.to_le_bytes());
        f[440..444].copy_from_slice(&(self.max_mapnr.min(u32::MAX as u64) as u32).to_le_bytes());
        f[456..460].copy_from_slice(&1u32.to_le_bytes()); // current_cpu
        f[460..464].copy_from_slice(&2u32.to_le_bytes()); // nr_cpus

        // Sub-header with notes and vmcoreinfo after it.
        let mut sub = vec![0u8; bs * sub_hdr_size as usize];
        sub[0..8].copy_from_slice(&0x100_0000u64.to_le_bytes()); // phys_base
        sub[8..12].copy_from_slice(&31u32.to_le_bytes()); // dump_level
        let vmci_off = bs as u64 + 128;
        sub[128..128 + self.vmcoreinfo.len()].copy_from_slice(&self.vmcoreinfo);
        if !self.vmcoreinfo.is_empty() {
            sub[32..40].copy_from_slice(&vmci_off.to_le_bytes());
            sub[40..48].copy_from_slice(&(self.vmcoreinfo.len() as u64).to_le_bytes());
        }
        let note_at = 128 + self.vmcoreinfo.len().next_multiple_of(8);
        sub[note_at..note_at + self.notes.len()].copy_from_slice(&self.notes);
        if !self.notes.is_empty() {
            sub[48..56].copy_from_slice(&(bs as u64 + note_at as u64).to_le_bytes());
            sub[56..64].copy_from_slice(&(self.notes.len() as u64).to_le_bytes());
        }
        sub[96..104].copy_from_slice(&self.max_mapnr.to_le_bytes());
        f.extend(sub);

        let mut bm1 = vec![0u8; bitmap_bytes];
        let mut bm2 = vec![0u8; bitmap_bytes];
        let mut pages = self.pages.clone();
        pages.sort_by_key(|p| p.0);
        for (pfn, kind) in &pages {
            let (byte, bit) = ((*pfn / 8) as usize, 1u8 << (pfn % 8));
            bm1[byte] |= bit;
            if !matches!(kind, Page::Excluded) {
                bm2[byte] |= bit;
            }
        }
        f.extend(bm1);
        f.extend(bm2);

        let dumped: Vec<_> = pages
            .iter()
            .filter(|p| !matches!(p.1, Page::Excluded))
            .collect();
        let desc_start = f.len();
        let mut data_off = (desc_start + 24 * dumped.len()) as u64;
        let mut descs = Vec::new();
        let mut data = Vec::new();
        // The shared zero page comes first, as makedumpfile writes it.
        let zero_desc = (data_off, self.block_size, 0u32);
        data.extend(vec![0u8; bs]);
        data_off += bs as u64;
        for (pfn, kind) in dumped {
            let (off, size, flags) = match kind {
                Page::Zero => zero_desc,
                Page::Data(flags) => {
                    let c = compress(*flags, &page_content(*pfn, bs));
                    let d = (data_off, c.len() as u32, *flags);
                    data_off += c.len() as u64;
                    data.extend(c);
                    d
                }
                Page::Excluded => unreachable!(),
            };
            descs.extend_from_slice(&off.to_le_bytes());
            descs.extend_from_slice(&size.to_le_bytes());
            descs.extend_from_slice(&flags.to_le_bytes());
            descs.extend_from_slice(&0u64.to_le_bytes());
        }
        f.extend(descs);
        f.extend(data);
        f
    }
}

/// Wraps a file into a flattened stream: records of `chunk` bytes in
/// shuffled order, preceded by a garbage record that later records
/// overwrite.
fn flatten(file: &[u8], chunk: usize) -> Vec<u8> {
    let mut v = vec![0u8; 4096];
    v[..12].copy_from_slice(b"makedumpfile");
    v[16..24].copy_from_slice(&1i64.to_be_bytes());
    v[24..32].copy_from_slice(&1i64.to_be_bytes());
    let rec = |v: &mut Vec<u8>, off: usize, d: &[u8]| {
        v.extend_from_slice(&(off as i64).to_be_bytes());
        v.extend_from_slice(&(d.len() as i64).to_be_bytes());
        v.extend_from_slice(d);
    };
    rec(&mut v, 0, &vec![0xEEu8; file.len().min(10_000)]);
    let mut chunks: Vec<(usize, &[u8])> = file
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| (i * chunk, c))
        .collect();
    // A deterministic shuffle: odd chunks first, then even ones.
    chunks.sort_by_key(|(o, _)| ((o / chunk) & 1 == 0, *o));
    for (o, c) in chunks {
        rec(&mut v, o, c);
    }
    v.extend_from_slice(&(-1i64).to_be_bytes());
    v.extend_from_slice(&(-1i64).to_be_bytes());
    v
}

fn read(core: &Vmcore, paddr: u64, n: usize) -> Result<Vec<u8>, ReadError> {
    let mut b = vec![0x55u8; n];
    core.read_phys(paddr, &mut b).map(|()| b)
}

fn check_notes(core: &Vmcore) {
    let pr = core.prstatus();
    assert_eq!(pr.len(), 2);
    assert_eq!(pr[1].pid, 77);
    let regs = pr[1].x86_64.expect("x86_64 registers");
    assert_eq!((regs.rip, regs.rsp), (0x2000, 0x2001));
    let info = core.vmcoreinfo().expect("vmcoreinfo");
    assert_eq!(info.osrelease(), Some("6.1.0-test"));
    assert_eq!(info.build_id().unwrap()[..3], [0x00, 0x11, 0x22]);
    assert_eq!(info.symbol("swapper_pg_dir"), Some(0xffffffff82a0a000));
    assert_eq!(info.kernel_offset(), Some(0x2a000000));
    assert_eq!(core.phys_base(), Some(0x100_0000));
    assert_eq!(core.page_size(), 4096);
}

// ------------------------------------------------------------------ ELF

fn sample_elf(ehsize: u16) -> Vec<u8> {
    let loads = [
        Load {
            paddr: 0,
            data: page_content(0, 0x3000),
            memsz: 0x3000,
        },
        // Adjacent to the first; only half backed by file data.
        Load {
            paddr: 0x3000,
            data: page_content(3, 0x800),
            memsz: 0x2000,
        },
        Load {
            paddr: 0x10_0000,
            data: page_content(0x100, 0x1000),
            memsz: 0x1000,
        },
    ];
    build_elf(&loads, &standard_notes(), ehsize, 4)
}

#[test]
fn elf_reads_and_notes() {
    let core = Vmcore::from_bytes(sample_elf(64)).unwrap();
    assert_eq!(
        core.format(),
        DumpFormat::Elf {
            qemu_header_quirk: false,
            flattened: false
        }
    );
    assert_eq!(core.arch(), vmcore::Arch::X86_64);
    check_notes(&core);
    assert_eq!(
        read(&core, 0x1000, 16).unwrap(),
        page_content(0, 0x3000)[0x1000..0x1010]
    );
    // Spans two segments and reaches into the zero-filled tail.
    let b = read(&core, 0x2ff0, 0x1000).unwrap();
    assert_eq!(b[..16], page_content(0, 0x3000)[0x2ff0..]);
    assert_eq!(b[16..16 + 0x800], page_content(3, 0x800)[..]);
    assert!(b[16 + 0x800..].iter().all(|&x| x == 0));
    assert_eq!(
        read(&core, 0x4ff0, 0x20),
        Err(ReadError::NotInDump { paddr: 0x5000 })
    );
    assert_eq!(
        read(&core, 0x8000, 1),
        Err(ReadError::NotInDump { paddr: 0x8000 })
    );
    assert_eq!(core.phys_ranges(), vec![0..0x5000, 0x10_0000..0x10_1000]);
    assert!(core.kdump_header().is_none());
}

#[test]
fn elf_small_reads_match_large_ones() {
    // Small reads go through the page cache; a large read does not.
    let core = Vmcore::from_bytes(sample_elf(64)).unwrap();
    let whole = read(&core, 0, 0x5000).unwrap();
    for len in [1usize, 7, 64, 4096] {
        for off in (0..0x5000 - len).step_by(509) {
            assert_eq!(
                read(&core, off as u64, len).unwrap(),
                whole[off..off + len],
                "{len} bytes at {off:#x}"
            );
        }
    }
    // Twice: the second time from the cache.
    assert_eq!(read(&core, 0x10, 8).unwrap(), whole[0x10..0x18]);
}

#[test]
fn elf_qemu_ehsize_quirk() {
    let core = Vmcore::from_bytes(sample_elf(8)).unwrap();
    assert_eq!(
        core.format(),
        DumpFormat::Elf {
            qemu_header_quirk: true,
            flattened: false
        }
    );
    check_notes(&core);
}

#[test]
fn elf_truncated() {
    let f = sample_elf(64);
    // Cut in the middle of the last segment's data.
    let cut = f.len() - 0x800;
    let core = Vmcore::from_bytes(f[..cut].to_vec()).unwrap();
    assert_eq!(
        read(&core, 0x10_0000, 0x1000),
        Err(ReadError::Truncated { paddr: 0x10_0800 })
    );
    assert!(read(&core, 0x10_0000, 0x800).is_ok());
    // Headers cut.
    let e = Vmcore::from_bytes(f[..100].to_vec()).unwrap_err();
    assert!(matches!(e, VmcoreError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("program headers"), "{e}");
}

#[test]
fn elf_not_core() {
    let f = build_elf(&[], &[], 64, 2);
    let e = Vmcore::from_bytes(f).unwrap_err();
    assert!(e.to_string().starts_with("not a crash dump"), "{e}");
}

#[test]
fn elf_flattened() {
    let f = sample_elf(64);
    let core = Vmcore::from_bytes(flatten(&f, 1000)).unwrap();
    assert_eq!(
        core.format(),
        DumpFormat::Elf {
            qemu_header_quirk: false,
            flattened: true
        }
    );
    check_notes(&core);
    assert_eq!(
        read(&core, 0x10_0000, 0x1000).unwrap(),
        page_content(0x100, 0x1000)
    );
}

// ---------------------------------------------------------------- kdump

fn sample_pages(flags: u32) -> Vec<(u64, Page)> {
    vec![
        (1, Page::Data(flags)),
        (2, Page::Data(flags)),
        (3, Page::Excluded),
        (4, Page::Zero),
        (5, Page::Data(flags)),
        (40, Page::Data(flags)),
        (41, Page::Zero),
    ]
}

fn check_kdump(core: &Vmcore) {
    check_notes(core);
    let bs = 4096u64;
    for pfn in [1u64, 2, 5, 40] {
        assert_eq!(
            read(core, pfn * bs, bs as usize).unwrap(),
            page_content(pfn, bs as usize),
            "pfn {pfn}"
        );
    }
    // Twice, to go through the cache.
    assert_eq!(
        read(core, 40 * bs + 5, 7).unwrap(),
        page_content(40, 4096)[5..12]
    );
    // Across pages 1 and 2.
    let b = read(core, 2 * bs - 8, 16).unwrap();
    assert_eq!(b[..8], page_content(1, 4096)[4088..]);
    assert_eq!(b[8..], page_content(2, 4096)[..8]);
    // Zero pages read as zeros.
    assert_eq!(read(core, 4 * bs, 4096).unwrap(), vec![0; 4096]);
    assert_eq!(read(core, 41 * bs + 100, 10).unwrap(), vec![0; 10]);
    // Excluded is distinct from not-in-dump, and names the address.
    assert_eq!(
        read(core, 3 * bs + 17, 4),
        Err(ReadError::Excluded { paddr: 3 * bs + 17 })
    );
    assert_eq!(
        read(core, 3 * bs - 4, 8),
        Err(ReadError::Excluded { paddr: 3 * bs })
    );
    assert_eq!(read(core, 0, 1), Err(ReadError::NotInDump { paddr: 0 }));
    assert_eq!(
        read(core, 6 * bs - 1, 2),
        Err(ReadError::NotInDump { paddr: 6 * bs })
    );
    assert_eq!(
        read(core, 1 << 40, 2),
        Err(ReadError::NotInDump { paddr: 1 << 40 })
    );
    assert_eq!(
        read(core, u64::MAX - 1, 4),
        Err(ReadError::NotInDump {
            paddr: u64::MAX - 1
        })
    );
    assert_eq!(
        core.phys_ranges(),
        vec![bs..3 * bs, 4 * bs..6 * bs, 40 * bs..42 * bs]
    );
    let h = core.kdump_header().unwrap();
    assert_eq!(h.utsname.release, "6.1.0-test");
    assert_eq!(h.utsname.machine, "x86_64");
    assert_eq!((h.nr_cpus, h.current_cpu), (2, 1));
    assert_eq!(h.phys_base, Some(0x100_0000));
    assert_eq!(h.dump_level, Some(31));
    assert_eq!(h.max_mapnr, 64);
    assert_eq!(h.timestamp.0, 1_700_000_000);
}

#[test]
fn kdump_all_compressions() {
    for (flags, c) in [
        (0, Compression::None),
        (ZLIB, Compression::Zlib),
        (LZO, Compression::Lzo),
        (SNAPPY, Compression::Snappy),
        (ZSTD, Compression::Zstd),
    ] {
        let f = KdumpSpec::new(flags, sample_pages(flags)).build();
        let core = Vmcore::from_bytes(f.clone()).unwrap();
        assert_eq!(
            core.format(),
            DumpFormat::Kdump {
                compression: c,
                dump_level: Some(31),
                flattened: false,
                incomplete: false
            },
            "{c}"
        );
        check_kdump(&core);

        let core = Vmcore::from_bytes(flatten(&f, 777)).unwrap();
        assert!(matches!(
            core.format(),
            DumpFormat::Kdump {
                flattened: true,
                incomplete: false,
                ..
            }
        ));
        check_kdump(&core);
    }
}

#[test]
fn kdump_mixed_page_compression() {
    let pages = vec![
        (1, Page::Data(ZLIB)),
        (2, Page::Data(LZO)),
        (5, Page::Data(0)),
        (40, Page::Data(ZSTD)),
        (41, Page::Data(SNAPPY)),
    ];
    let core = Vmcore::from_bytes(KdumpSpec::new(ZLIB, pages.clone()).build()).unwrap();
    for (pfn, _) in pages {
        assert_eq!(
            read(&core, pfn * 4096, 4096).unwrap(),
            page_content(pfn, 4096)
        );
    }
}

#[test]
fn kdump_vmcoreinfo_from_raw_area() {
    // Version 3: VMCOREINFO text, no note area.
    let mut spec = KdumpSpec::new(ZLIB, sample_pages(ZLIB));
    spec.header_version = 3;
    spec.notes = Vec::new();
    let core = Vmcore::from_bytes(spec.build()).unwrap();
    assert_eq!(core.vmcoreinfo().unwrap().osrelease(), Some("6.1.0-test"));
    assert!(core.prstatus().is_empty());
    // Version < 6 uses the 32-bit max_mapnr.
    assert_eq!(core.kdump_header().unwrap().max_mapnr, 64);
}

#[test]
fn kdump_large_bitmap_rank() {
    // Many pfns so that the rank table has several chunks.
    let pages: Vec<(u64, Page)> = (0..5000u64)
        .filter(|p| p % 3 != 0 || p % 7 == 0)
        .map(|p| {
            let kind = match p % 5 {
                0 => Page::Excluded,
                1 => Page::Zero,
                _ => Page::Data(LZO),
            };
            (p, kind)
        })
        .collect();
    let mut spec = KdumpSpec::new(LZO, pages.clone());
    spec.max_mapnr = 5000;
    spec.block_size = 4096;
    let core = Vmcore::from_bytes(spec.build()).unwrap();
    for (pfn, kind) in pages.iter().step_by(7) {
        let r = read(&core, pfn * 4096, 4096);
        match kind {
            Page::Excluded => assert_eq!(r, Err(ReadError::Excluded { paddr: pfn * 4096 })),
            Page::Zero => assert_eq!(r.unwrap(), vec![0; 4096]),
            Page::Data(_) => assert_eq!(r.unwrap(), page_content(*pfn, 4096), "pfn {pfn}"),
        }
    }
    assert_eq!(
        read(&core, 3 * 4096, 1),
        Err(ReadError::NotInDump { paddr: 3 * 4096 })
    );
}

#[test]
fn kdump_incomplete_and_truncated() {
    let f = KdumpSpec::new(ZLIB | 0x8, sample_pages(ZLIB)).build();
    let core = Vmcore::from_bytes(f.clone()).unwrap();
    assert!(matches!(
        core.format(),
        DumpFormat::Kdump {
            incomplete: true,
            ..
        }
    ));
    // Cut inside the last page's data: earlier pages still read.
    let cut = f.len() - 10;
    let core = Vmcore::from_bytes(f[..cut].to_vec()).unwrap();
    assert_eq!(read(&core, 4096, 4096).unwrap(), page_content(1, 4096));
    assert_eq!(
        read(&core, 40 * 4096, 8),
        Err(ReadError::Truncated { paddr: 40 * 4096 })
    );
    // A zeroed descriptor (never written) is also a truncated page.
    let mut g = f.clone();
    let desc_start = 4096 * (1 + 2 + 2);
    let third = desc_start + 24 * 2; // pfn 4 is the third dumped page
    g[third..third + 24].fill(0);
    let core = Vmcore::from_bytes(g).unwrap();
    assert_eq!(
        read(&core, 4 * 4096, 8),
        Err(ReadError::Truncated { paddr: 4 * 4096 })
    );
    // Headers cut: a clear open error.
    for n in [100, 4096, 4096 + 50, 4096 * 3 + 10] {
        let e = Vmcore::from_bytes(f[..n].to_vec()).unwrap_err();
        assert!(matches!(e, VmcoreError::Truncated { .. }), "{n}: {e}");
        assert!(
            e.to_string().contains("truncated kdump-compressed file"),
            "{e}"
        );
    }
}

#[test]
fn kdump_corrupt_page() {
    let f = KdumpSpec::new(ZLIB, sample_pages(ZLIB)).build();
    let desc_start = 4096 * (1 + 2 + 2);
    // Garble the data of pfn 1 (the first dumped page).
    let off = u64::from_le_bytes(f[desc_start..desc_start + 8].try_into().unwrap()) as usize;
    let mut g = f.clone();
    g[off + 2..off + 40].fill(0xAB);
    let core = Vmcore::from_bytes(g).unwrap();
    match read(&core, 4096 + 3, 1) {
        Err(ReadError::Corrupt { paddr, reason }) => {
            assert_eq!(paddr, 4096 + 3);
            assert!(reason.contains("zlib"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Size larger than a block.
    let mut g = f.clone();
    g[desc_start + 8..desc_start + 12].copy_from_slice(&5000u32.to_le_bytes());
    let core = Vmcore::from_bytes(g).unwrap();
    assert!(matches!(
        read(&core, 4096, 1),
        Err(ReadError::Corrupt { .. })
    ));
    // Unknown compression flag.
    let mut g = f;
    g[desc_start + 12..desc_start + 16].copy_from_slice(&0x40u32.to_le_bytes());
    let core = Vmcore::from_bytes(g).unwrap();
    let e = read(&core, 4096, 1).unwrap_err();
    assert!(e.to_string().contains("0x1000"), "{e}");
}

#[test]
fn kdump_absurd_header_values() {
    let f = KdumpSpec::new(ZLIB, sample_pages(ZLIB)).build();
    // bitmap_blocks = u32::MAX: must fail cleanly without allocating.
    let mut g = f.clone();
    g[436..440].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = Vmcore::from_bytes(g).unwrap_err();
    assert!(matches!(e, VmcoreError::Truncated { .. }), "{e}");
    // Huge max_mapnr_64: pfns are limited by the bitmap.
    let mut g = f.clone();
    g[4096 + 96..4096 + 104].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let core = Vmcore::from_bytes(g).unwrap();
    assert_eq!(
        read(&core, 1 << 50, 1),
        Err(ReadError::NotInDump { paddr: 1 << 50 })
    );
    // Bad block size.
    let mut g = f.clone();
    g[428..432].copy_from_slice(&4095u32.to_le_bytes());
    assert!(matches!(
        Vmcore::from_bytes(g),
        Err(VmcoreError::Malformed { .. })
    ));
    // Note area far outside the file.
    let mut g = f;
    g[4096 + 48..4096 + 56].copy_from_slice(&(u64::MAX - 4).to_le_bytes());
    assert!(Vmcore::from_bytes(g).is_err());
}

#[test]
fn flattened_without_end_marker_is_incomplete() {
    let f = KdumpSpec::new(ZLIB, sample_pages(ZLIB)).build();
    let mut s = flatten(&f, 4096);
    s.truncate(s.len() - 16);
    let core = Vmcore::from_bytes(s).unwrap();
    assert!(matches!(
        core.format(),
        DumpFormat::Kdump {
            flattened: true,
            incomplete: true,
            ..
        }
    ));
    check_kdump(&core);
}

#[test]
fn flattened_with_unknown_content() {
    let s = flatten(b"hello, this is not a dump at all", 8);
    let e = Vmcore::from_bytes(s).unwrap_err();
    assert!(
        e.to_string().contains("flattened stream whose content"),
        "{e}"
    );
}

#[test]
fn open_from_file_and_threads() {
    let f = KdumpSpec::new(ZSTD, sample_pages(ZSTD)).build();
    let path = std::env::temp_dir().join(format!("vmcore-test-{}.kdump", std::process::id()));
    std::fs::write(&path, &f).unwrap();
    let core = Vmcore::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let core = &core;
            s.spawn(move || {
                for i in 0..200u64 {
                    let pfn = [1u64, 2, 5, 40][((i + t) % 4) as usize];
                    assert_eq!(
                        read(core, pfn * 4096, 4096).unwrap(),
                        page_content(pfn, 4096)
                    );
                }
            });
        }
    });
    let e = Vmcore::open(std::path::Path::new("/nonexistent/vmcore")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/vmcore"), "{e}");
}

// ------------------------------------------------------------ robustness

/// Opens every prefix (at a stride) and many single-byte corruptions of a
/// file; whatever opens is read everywhere. Nothing may panic.
fn hammer(file: &[u8]) {
    let probe = |data: Vec<u8>| {
        if let Ok(core) = Vmcore::from_bytes(data) {
            let _ = core.phys_ranges();
            let _ = core.vmcoreinfo().map(|v| v.build_id());
            let mut buf = vec![0u8; 4096 + 16];
            for pfn in 0..70u64 {
                let _ = core.read_phys(pfn * 4096 - (pfn > 0) as u64 * 8, &mut buf);
            }
        }
    };
    let stride = (file.len() / 300).max(1);
    for n in (0..file.len()).step_by(stride) {
        probe(file[..n].to_vec());
    }
    let mut x = 0x9e37_79b9u32;
    for _ in 0..400 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let mut g = file.to_vec();
        // Bias towards the headers, where the interesting fields are.
        let at = if x & 1 == 0 {
            (x as usize >> 1) % g.len().min(12_288)
        } else {
            (x as usize >> 1) % g.len()
        };
        g[at] = (x >> 24) as u8 ^ 0xff;
        if x % 3 < 1 {
            let at2 = (at + 1).min(g.len() - 1);
            g[at2] = 0xff;
        }
        probe(g);
    }
}

#[test]
fn garbled_inputs_never_panic() {
    hammer(&sample_elf(8));
    for flags in [0, ZLIB, LZO, SNAPPY, ZSTD] {
        let f = KdumpSpec::new(flags, sample_pages(flags)).build();
        hammer(&f);
        if flags == LZO {
            hammer(&flatten(&f, 3000));
        }
    }
}

#[test]
fn elf_pn_xnum_program_header_count() {
    let mut f = sample_elf(64);
    let count = u16::from_le_bytes([f[56], f[57]]);
    let shoff = f.len() as u64;
    f[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
    f[40..48].copy_from_slice(&shoff.to_le_bytes()); // e_shoff
    f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    f[60..62].copy_from_slice(&1u16.to_le_bytes()); // e_shnum
    let mut sh = vec![0u8; 64];
    sh[44..48].copy_from_slice(&(count as u32).to_le_bytes()); // sh_info
    f.extend(sh);
    let core = Vmcore::from_bytes(f).unwrap();
    check_notes(&core);
    assert_eq!(core.phys_ranges().len(), 2);
}
