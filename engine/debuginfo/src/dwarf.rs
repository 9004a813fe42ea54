//! The DWARF layer: loading sections, the name index over top-level DIEs,
//! and random access to DIEs by global `.debug_info` offset.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use gimli::constants as dw;
use gimli::{AttributeValue, EndianSlice, RunTimeEndian, UnitHeader, UnitOffset};

use crate::elf::ElfFile;
use crate::error::{Error, Result};
use crate::hash::FxBuildHasher;

pub(crate) type R = EndianSlice<'static, RunTimeEndian>;
pub(crate) type Unit = gimli::Unit<R>;

/// The kinds of names the index distinguishes (C has separate tag and
/// ordinary-identifier namespaces, so `struct foo` and typedef `foo` differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum NameSpace {
    Struct,
    Union,
    Enum,
    Typedef,
    Base,
    Variable,
    Function,
}

/// One indexed DIE: the best one seen for its name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    /// Global `.debug_info` offset of the DIE.
    pub die: u64,
    /// Whether it is only a declaration (`DW_AT_declaration`).
    pub decl: bool,
}

/// A candidate definition: its DIE, its byte size (structs/unions/enums)
/// and how many units define a type of that name with that size.
#[derive(Clone, Copy, Debug)]
struct Cand {
    hit: Hit,
    size: u64,
    count: u32,
}

/// What the index keeps per name. Headers define kernel structs in many
/// units, while a file-local struct that reuses a name (`struct irq_info`,
/// a second `struct console`) lives in one: when definitions of a name
/// differ in size, the size seen in more units wins.
#[derive(Clone, Debug)]
struct Slot {
    first: Cand,
    /// Definitions of other sizes (rare). Every size is kept, so that
    /// merging partial slots gives what one pass would.
    others: Option<Box<[Cand]>>,
}

impl Slot {
    fn new(c: Cand) -> Slot {
        Slot {
            first: c,
            others: None,
        }
    }

    fn cands(&self) -> impl Iterator<Item = &Cand> {
        std::iter::once(&self.first).chain(self.others.iter().flat_map(|o| o.iter()))
    }

    /// Adds a candidate. The outcome does not depend on the order in which
    /// candidates arrive (scanning threads, lazy batches and a resumed cache
    /// merge in any order): per size the counts add up, and the lowest DIE
    /// offset, the first in the section, represents them.
    fn add(&mut self, c: Cand) {
        if self.first.hit.decl {
            if !c.hit.decl || c.hit.die < self.first.hit.die {
                *self = Slot::new(c);
            }
            return;
        }
        if c.hit.decl {
            return;
        }
        fn join(into: &mut Cand, c: Cand) {
            into.count = into.count.saturating_add(c.count);
            if c.hit.die < into.hit.die {
                into.hit = c.hit;
            }
        }
        if c.size == self.first.size {
            return join(&mut self.first, c);
        }
        let mut others = self.others.take().map(Vec::from).unwrap_or_default();
        match others.iter_mut().find(|o| o.size == c.size) {
            Some(o) => join(o, c),
            None => others.push(c),
        }
        self.others = Some(others.into_boxed_slice());
    }

    /// The size seen in the most units; among equals, the first in the section.
    fn best(&self) -> Hit {
        self.cands()
            .max_by(|a, b| a.count.cmp(&b.count).then(b.hit.die.cmp(&a.hit.die)))
            .map_or(self.first.hit, |c| c.hit)
    }
}

type Key = (NameSpace, &'static [u8]);
type Map = HashMap<Key, Slot, FxBuildHasher>;

/// What a scanning thread collects. Most names are `.debug_str` offsets,
/// which the linker deduplicates: keying by offset hashes 8 bytes instead
/// of the name. The names are resolved once per distinct offset at the end
/// (and merged by content there, should a linker not have deduplicated).
#[derive(Default)]
struct ScanMap {
    by_str: HashMap<(NameSpace, u64), Slot, FxBuildHasher>,
    inline: Map,
}

fn add_to<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Slot, FxBuildHasher>, key: K, slot: Slot) {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut o) => {
            for c in slot.cands() {
                o.get_mut().add(*c);
            }
        }
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(slot);
        }
    }
}

/// What cheaper sources (the symbol table, BTF) say of a name, which tells a
/// lazy scan when it has seen enough units to answer as a full scan would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// The name does not exist: no scan.
    Absent,
    /// The first definition in unit order is the answer (variables,
    /// functions, typedefs, base types: a full scan keeps the first too).
    FirstDefinition,
    /// Only declarations exist (`struct foo;`): the first one is the answer.
    FirstDeclaration,
    /// One definition of this size exists (BTF's count): the first one of
    /// that size is the answer, as "most units win" would pick it.
    Sized(u64),
    /// Several definitions, or nothing known: only a full scan answers.
    FullScan,
}

impl Slot {
    fn settled(&self, e: Expect) -> bool {
        match e {
            Expect::Absent => true,
            Expect::FirstDefinition => !self.first.hit.decl,
            Expect::FirstDeclaration => true,
            Expect::Sized(size) => {
                !self.first.hit.decl && self.first.size == size && self.others.is_none()
            }
            Expect::FullScan => false,
        }
    }
}

/// Which compilation unit covers a code address: ranges of (begin, end,
/// unit offset in `.debug_info`), which may nest (the innermost wins).
#[derive(Clone, Debug, Default)]
pub struct CodeUnits {
    /// Sorted by begin.
    ranges: Vec<(u64, u64, usize)>,
    /// The longest range, to bound the backward search over overlaps.
    max_len: u64,
}

impl CodeUnits {
    pub fn new(mut ranges: Vec<(u64, u64, usize)>) -> CodeUnits {
        ranges.sort_unstable();
        let max_len = ranges
            .iter()
            .map(|r| r.1.saturating_sub(r.0))
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        CodeUnits { ranges, max_len }
    }

    /// The offset of the unit whose range contains `addr`.
    pub fn unit_at(&self, addr: u64) -> Option<usize> {
        let i = self.ranges.partition_point(|r| r.0 <= addr);
        self.ranges[..i]
            .iter()
            .rev()
            .take_while(|r| addr - r.0 < self.max_len)
            .find(|r| addr < r.1)
            .map(|r| r.2)
    }

    /// The offsets of the units with at least one range.
    pub fn units(&self) -> std::collections::HashSet<usize> {
        self.ranges.iter().map(|r| r.2).collect()
    }
}

/// A DIE's name as the scan meets it.
enum Name {
    /// An offset into `.debug_str` (most names: the linker merged them).
    Str(u64),
    Inline(&'static [u8]),
}

/// Statistics about the name index, for measurements.
#[derive(Clone, Debug, Default)]
pub struct IndexStats {
    /// Compilation units scanned by this process.
    pub units: usize,
    /// Units already scanned when the index was loaded from the cache.
    pub loaded_units: usize,
    /// Units in the file.
    pub total_units: usize,
    /// Top-level DIEs looked at.
    pub top_level_dies: u64,
    /// Distinct (namespace, name) keys kept.
    pub names: usize,
    /// Global variables looked for through their symbol (found or not).
    pub variables: usize,
    /// Threads used.
    pub threads: usize,
    /// Wall time spent scanning (or loading).
    pub build_time: Duration,
    /// Units scanned by this process that could not be read (damaged
    /// DWARF): skipped, and the index is then never persisted.
    pub damaged_units: usize,
}

/// The name index, filled lazily: units are scanned in section order, a
/// batch at a time, only until the name asked for is settled (see
/// [`Expect`]). Whatever was scanned is kept, and persisted, for later.
pub(crate) struct NameIndex {
    progress: Mutex<Progress>,
}

struct Progress {
    map: Map,
    /// Global variables looked for through their symbol (see
    /// `KernelDebugInfo::variable_at_symbol`): the DIE found, or None.
    hints: HashMap<&'static [u8], Option<Hit>, FxBuildHasher>,
    /// Whether `hints` changed since loaded or persisted.
    hints_changed: bool,
    /// Units `headers[..next]` are in `map`.
    next: usize,
    /// `next` as last loaded from or written to the cache.
    persisted: usize,
    stats: IndexStats,
}

/// Bytes of `.debug_info` a lazy scan reads at a time: the types rules ask
/// for are defined in the first units, most variables within the first third.
const BATCH_BYTES: usize = 8 << 20;

const INDEX_MAGIC: &[u8; 8] = b"VMTIDX05";

/// The namespace byte of a persisted variable hint (not a `NameSpace`).
const HINT_RECORD: u8 = 0xff;

const NS: [NameSpace; 7] = [
    NameSpace::Struct,
    NameSpace::Union,
    NameSpace::Enum,
    NameSpace::Typedef,
    NameSpace::Base,
    NameSpace::Variable,
    NameSpace::Function,
];

/// The header of a persisted index, and its records.
struct Header<'a> {
    /// Units scanned.
    next: usize,
    total: usize,
    /// Records.
    n: usize,
    sum: u64,
    body: &'a [u8],
}

impl<'a> Header<'a> {
    /// The header's length for a key.
    fn len(key: &[u8]) -> usize {
        INDEX_MAGIC.len() + 4 + key.len() + 32
    }

    /// Checks the magic, the key and that the records fill the file, whose
    /// whole length is `file_len` (`bytes` may hold only the header).
    fn parse(bytes: &'a [u8], key: &[u8], file_len: usize) -> Option<Header<'a>> {
        let rest = bytes.strip_prefix(INDEX_MAGIC.as_slice())?;
        let klen = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        if rest.get(4..4usize.checked_add(klen)?)? != key {
            return None;
        }
        let rest = &rest[4 + klen..];
        let word = |i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(
                rest.get(8 * i..8 * i + 8)?.try_into().ok()?,
            ))
        };
        let n = usize::try_from(word(2)?).ok()?;
        let body_len = file_len.checked_sub(Self::len(key))?;
        (body_len == n.checked_mul(REC)?).then_some(Header {
            next: usize::try_from(word(0)?).ok()?,
            total: usize::try_from(word(1)?).ok()?,
            n,
            sum: word(3)?,
            body: rest.get(32..).unwrap_or_default(),
        })
    }
}

/// The length of an index file of `records` records for `key`.
pub(crate) fn index_file_len(key: &[u8], records: u64) -> u64 {
    (Header::len(key) as u64).saturating_add(records.saturating_mul(REC as u64))
}

/// Detects a damaged file (not tampering: the cache is the user's own).
fn checksum(body: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = crate::hash::FxHasher::default();
    h.write(body);
    h.finish()
}

/// Bytes of one persisted candidate: DIE, declaration flag, size, count.
const CAND: usize = 8 + 1 + 8 + 4;
/// Bytes of one persisted record: namespace, name offset and length, a
/// candidate (a name with definitions of several sizes has one per size).
const REC: usize = 1 + 8 + 4 + CAND;

fn put_cand(out: &mut Vec<u8>, c: &Cand) {
    out.extend_from_slice(&c.hit.die.to_le_bytes());
    out.push(c.hit.decl as u8);
    out.extend_from_slice(&c.size.to_le_bytes());
    out.extend_from_slice(&c.count.to_le_bytes());
}

fn get_cand(r: &[u8]) -> Cand {
    let u64_at = |i: usize| u64::from_le_bytes(r[i..i + 8].try_into().unwrap_or_default());
    Cand {
        hit: Hit {
            die: u64_at(0),
            decl: r[8] != 0,
        },
        size: u64_at(9),
        count: u32::from_le_bytes(r[17..21].try_into().unwrap_or_default()),
    }
}

impl NameIndex {
    pub fn empty(total_units: usize) -> NameIndex {
        NameIndex {
            progress: Mutex::new(Progress {
                map: Map::default(),
                hints: HashMap::default(),
                hints_changed: false,
                next: 0,
                persisted: 0,
                stats: IndexStats {
                    total_units,
                    ..Default::default()
                },
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The best DIE for a name, scanning further units until `expect` says
    /// the answer can no longer change (or every unit has been scanned).
    pub fn get(&self, d: &DwarfData, ns: NameSpace, name: &str, expect: Expect) -> Option<Hit> {
        if expect == Expect::Absent {
            return None;
        }
        let mut p = self.lock();
        loop {
            let slot = p.map.get(&(ns, name.as_bytes()));
            if p.next >= d.headers.len() || slot.is_some_and(|s| s.settled(expect)) {
                return slot.map(|s| s.best());
            }
            let mut end = p.next;
            let mut bytes = 0;
            while end < d.headers.len() && bytes < BATCH_BYTES {
                bytes += d.headers[end].length_including_self();
                end += 1;
            }
            p.scan(d, end);
        }
    }

    /// Scan every unit not scanned yet.
    pub fn complete(&self, d: &DwarfData) {
        let mut p = self.lock();
        if p.next < d.headers.len() {
            p.scan(d, d.headers.len());
        }
    }

    pub fn stats(&self) -> IndexStats {
        let p = self.lock();
        IndexStats {
            names: p.map.len(),
            variables: p.hints.len(),
            ..p.stats.clone()
        }
    }

    /// Every (namespace, name) seen so far.
    #[cfg(test)]
    pub fn names(&self) -> Vec<(NameSpace, String)> {
        let p = self.lock();
        p.map
            .keys()
            .map(|(ns, n)| (*ns, String::from_utf8_lossy(n).into_owned()))
            .collect()
    }

    /// Whether units were scanned or variables looked for since the index
    /// was loaded or persisted.
    pub fn advanced(&self) -> bool {
        let p = self.lock();
        p.next > p.persisted || p.hints_changed
    }

    /// Whether the index may be kept for later processes: no unit failed
    /// to scan. An index of a damaged copy of a vmlinux (the same build-id)
    /// lacks the names of its damaged units, and would answer "not found"
    /// for them to every later run with the intact file.
    pub fn persistable(&self) -> bool {
        self.lock().stats.damaged_units == 0
    }

    /// Whether this index should replace a persisted one that covers
    /// `theirs` units: it covers more, or as many and knows new variables.
    pub fn improves_on(&self, theirs: usize) -> bool {
        let p = self.lock();
        p.next > theirs || (p.next == theirs && p.hints_changed)
    }

    /// What looking for a variable through its symbol found, if done before.
    pub fn variable_hint(&self, name: &str) -> Option<Option<Hit>> {
        self.lock().hints.get(name.as_bytes()).copied()
    }

    /// Counts units found damaged outside a scan (a variable's search).
    pub fn note_damaged(&self, units: usize) {
        self.lock().stats.damaged_units += units;
    }

    pub fn set_variable_hint(&self, name: &'static [u8], hit: Option<Hit>) {
        let mut p = self.lock();
        p.hints.insert(name, hit);
        p.hints_changed = true;
    }

    /// The index as bytes: how far it got, and per name its candidates,
    /// each name as an offset into the file it was read from (names are
    /// slices of the mapped vmlinux). `None` if a name does not lie in
    /// `file` (nothing to persist then).
    pub fn to_bytes(&self, file: &[u8], key: &[u8]) -> Option<Vec<u8>> {
        let p = self.lock();
        let base = file.as_ptr() as usize;
        let mut out = Vec::with_capacity(48 + key.len() + p.map.len() * REC);
        out.extend_from_slice(INDEX_MAGIC);
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&(p.next as u64).to_le_bytes());
        out.extend_from_slice(&(p.stats.total_units as u64).to_le_bytes());
        let records = p.map.values().map(|s| s.cands().count()).sum::<usize>() + p.hints.len();
        out.extend_from_slice(&(records as u64).to_le_bytes());
        let sum_at = out.len();
        out.extend_from_slice(&0u64.to_le_bytes());
        let put_name = |out: &mut Vec<u8>, ns: u8, name: &[u8]| -> Option<()> {
            let off = (name.as_ptr() as usize).checked_sub(base)?;
            if off + name.len() > file.len() {
                return None;
            }
            out.push(ns);
            out.extend_from_slice(&(off as u64).to_le_bytes());
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            Some(())
        };
        for ((ns, name), slot) in &p.map {
            put_name(&mut out, *ns as u8, name)?;
            // One record per size: loading adds them up again.
            for (i, c) in slot.cands().enumerate() {
                if i > 0 {
                    put_name(&mut out, *ns as u8, name)?;
                }
                put_cand(&mut out, c);
            }
        }
        for (name, hit) in &p.hints {
            put_name(&mut out, HINT_RECORD, name)?;
            let c = Cand {
                hit: hit.unwrap_or(Hit {
                    die: u64::MAX,
                    decl: false,
                }),
                size: 0,
                count: 0,
            };
            put_cand(&mut out, &c);
        }
        let sum = checksum(&out[sum_at + 8..]);
        out[sum_at..sum_at + 8].copy_from_slice(&sum.to_le_bytes());
        Some(out)
    }

    /// How many units the index file at `path`, written by `to_bytes` for
    /// this key, covers. Reads only its header, and checks its length.
    pub fn persisted_units(path: &std::path::Path, key: &[u8]) -> Option<usize> {
        use std::io::Read;
        let f = crate::file::open_regular(path).ok()?;
        let file_len = usize::try_from(f.metadata().ok()?.len()).ok()?;
        let mut head = Vec::with_capacity(Header::len(key));
        f.take(Header::len(key) as u64)
            .read_to_end(&mut head)
            .ok()?;
        Some(Header::parse(&head, key, file_len)?.next)
    }

    /// Reads an index written by `to_bytes` for the same file and key; any
    /// mismatch or damage (its checksum) gives `None` (the caller scans afresh).
    pub fn from_bytes(
        bytes: &[u8],
        file: &'static [u8],
        key: &[u8],
        total_units: usize,
    ) -> Option<NameIndex> {
        let start = std::time::Instant::now();
        let Header {
            next,
            total,
            n,
            sum,
            body,
        } = Header::parse(bytes, key, bytes.len())?;
        if total != total_units || next > total || checksum(body) != sum {
            return None;
        }
        let mut map = Map::with_capacity_and_hasher(n, FxBuildHasher);
        let mut hints = HashMap::default();
        for r in body.chunks_exact(REC) {
            let off = u64::from_le_bytes(r[1..9].try_into().ok()?) as usize;
            let len = u32::from_le_bytes(r[9..13].try_into().ok()?) as usize;
            let name = file.get(off..off.checked_add(len)?)?;
            let first = get_cand(&r[13..13 + CAND]);
            if r[0] == HINT_RECORD {
                hints.insert(name, (first.hit.die != u64::MAX).then_some(first.hit));
                continue;
            }
            let ns = *NS.get(r[0] as usize)?;
            map.entry((ns, name))
                .and_modify(|s: &mut Slot| s.add(first))
                .or_insert(Slot::new(first));
        }
        let stats = IndexStats {
            loaded_units: next,
            total_units,
            build_time: start.elapsed(),
            ..Default::default()
        };
        Some(NameIndex {
            progress: Mutex::new(Progress {
                map,
                hints,
                hints_changed: false,
                next,
                persisted: next,
                stats,
            }),
        })
    }

    /// Mark the index as persisted up to where it is now.
    pub fn set_persisted(&self) {
        let mut p = self.lock();
        p.persisted = p.next;
        p.hints_changed = false;
    }
}

impl Progress {
    /// Scan units `next..end` and add what they define after what is known.
    fn scan(&mut self, d: &DwarfData, end: usize) {
        let start = Instant::now();
        let (batch, dies, threads, damaged) = d.scan_batch(&d.headers[self.next..end]);
        if self.map.is_empty() {
            self.map = batch;
        } else {
            merge_raw(&mut self.map, batch);
        }
        self.stats.units += end - self.next;
        self.stats.top_level_dies += dies;
        self.stats.damaged_units += damaged;
        self.stats.threads = self.stats.threads.max(threads);
        self.stats.build_time += start.elapsed();
        self.next = end;
    }
}

fn merge_raw<K: std::hash::Hash + Eq>(
    into: &mut HashMap<K, Slot, FxBuildHasher>,
    from: HashMap<K, Slot, FxBuildHasher>,
) {
    for (k, v) in from {
        add_to(into, k, v);
    }
}

pub(crate) struct DwarfData {
    pub path: std::path::PathBuf,
    pub dwarf: gimli::Dwarf<R>,
    /// All unit headers, in section order.
    pub headers: Vec<UnitHeader<R>>,
    /// Start offsets of `headers`, for binary search.
    starts: Vec<u64>,
    units: RwLock<HashMap<usize, Arc<Unit>, FxBuildHasher>>,
    /// The units' code ranges from `.debug_aranges`, built on first use.
    pub code_units: std::sync::OnceLock<CodeUnits>,
    pub address_size: u8,
    /// The sections are a private read-only file mapping (not a heap buffer),
    /// so scanned pages may be dropped from the resident set.
    pub mmapped: bool,
}

/// Drops the whole pages inside `bytes` from this process's resident set.
/// Only for read-only private file mappings: a later read refaults the file.
fn release_pages(bytes: &[u8]) {
    const PAGE: usize = 4096;
    let start = (bytes.as_ptr() as usize).div_ceil(PAGE) * PAGE;
    let end = (bytes.as_ptr() as usize + bytes.len()) / PAGE * PAGE;
    if end > start {
        // SAFETY: the range lies inside a live read-only file mapping (the
        // caller checks `mmapped`); MADV_DONTNEED does not change its contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

impl DwarfData {
    pub fn load(elf: &ElfFile, mmapped: bool) -> Result<DwarfData> {
        let path = elf.path.clone();
        if elf.section_index(".debug_info").is_none() {
            if elf.section_index(".zdebug_info").is_some() {
                return Err(Error::CompressedSection {
                    path,
                    section: ".zdebug_info".into(),
                });
            }
            return Err(Error::NoDwarf { path });
        }
        let endian = if elf.little_endian {
            RunTimeEndian::Little
        } else {
            RunTimeEndian::Big
        };
        let dwarf = gimli::Dwarf::load(|id| -> Result<R> {
            let name = id.name();
            let Some(idx) = elf.section_index(name) else {
                return Ok(EndianSlice::new(&[], endian));
            };
            if elf.sections[idx].is_compressed() {
                return Err(Error::CompressedSection {
                    path: elf.path.clone(),
                    section: name.into(),
                });
            }
            let data = elf.section_data(idx).ok_or_else(|| Error::BadElf {
                path: elf.path.clone(),
                reason: format!("section {name} extends beyond the end of the file (truncated?)"),
            })?;
            Ok(EndianSlice::new(data, endian))
        })?;
        let derr = |e: gimli::Error| Error::Dwarf {
            path: elf.path.clone(),
            reason: format!("unit headers: {e}"),
        };
        let mut headers = Vec::new();
        let mut iter = dwarf.units();
        // Reading each unit's header faults in its page and, through the
        // kernel's fault-around, its neighbours: without releasing behind us
        // the header walk alone maps all of .debug_info.
        let info = gimli::Section::reader(&dwarf.debug_info).slice();
        let mut released = 0usize;
        loop {
            match iter.next() {
                Ok(Some(h)) => {
                    let at = unit_start(&h) as usize;
                    if mmapped && at >= released + (8 << 20) {
                        if let Some(b) = info.get(released..at) {
                            release_pages(b);
                        }
                        released = at;
                    }
                    headers.push(h)
                }
                Ok(None) => break,
                // Keep the units before a damaged one rather than failing.
                Err(e) if !headers.is_empty() => {
                    let _ = derr(e);
                    break;
                }
                Err(e) => return Err(derr(e)),
            }
        }
        if headers.is_empty() {
            return Err(Error::NoDwarf { path });
        }
        let starts = headers.iter().map(unit_start).collect();
        let address_size = headers[0].address_size();
        Ok(DwarfData {
            path,
            dwarf,
            headers,
            starts,
            units: RwLock::new(HashMap::default()),
            code_units: std::sync::OnceLock::new(),
            address_size,
            mmapped,
        })
    }

    pub fn derr(&self, e: gimli::Error) -> Error {
        Error::Dwarf {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// The unit containing a global `.debug_info` offset, and that offset
    /// relative to the unit.
    pub fn unit_for(&self, off: u64) -> Result<(Arc<Unit>, UnitOffset<usize>)> {
        let n = self.starts.partition_point(|&s| s <= off);
        let bad = || Error::BadType {
            offset: off,
            reason: "offset is outside every unit".into(),
        };
        if n == 0 {
            return Err(bad());
        }
        let idx = n - 1;
        let h = &self.headers[idx];
        let rel = (off - self.starts[idx]) as usize;
        if rel >= h.length_including_self() {
            return Err(bad());
        }
        if let Some(u) = self.units.read().ok().and_then(|m| m.get(&idx).cloned()) {
            return Ok((u, UnitOffset(rel)));
        }
        let unit = Arc::new(Unit::new(&self.dwarf, *h).map_err(|e| self.derr(e))?);
        if let Ok(mut m) = self.units.write() {
            m.insert(idx, unit.clone());
        }
        Ok((unit, UnitOffset(rel)))
    }

    /// The units' code ranges, from `.debug_aranges`.
    pub fn code_units(&self) -> &CodeUnits {
        self.code_units.get_or_init(|| {
            let mut v = Vec::new();
            let mut headers = self.dwarf.debug_aranges.headers();
            while let Ok(Some(h)) = headers.next() {
                let unit = h.debug_info_offset().0;
                let mut entries = h.entries();
                // A bad entry (an address overflow, say) is skipped, as addr2line does.
                while let Some(e) = entries.next().transpose() {
                    if let Ok(e) = e {
                        if e.length() != 0 {
                            let r = e.range();
                            v.push((r.begin, r.end, unit));
                        }
                    }
                }
            }
            CodeUnits::new(v)
        })
    }

    /// The index of the unit whose code contains a link-time address
    /// (None when `.debug_aranges` has no entry for it).
    pub fn unit_of_code(&self, addr: u64) -> Option<usize> {
        let off = self.code_units().unit_at(addr)? as u64;
        self.starts.binary_search(&off).ok()
    }

    /// The first definition of a variable among units `first..=last` that
    /// `accept` takes, found by reading only variable DIEs. Two threads
    /// share a wide range; the lower half's answer wins, so the result does
    /// not depend on which finishes first. Units that cannot be read are
    /// counted in `damaged`.
    pub fn variable_in_units(
        &self,
        first: usize,
        last: usize,
        name: &str,
        damaged: &std::sync::atomic::AtomicUsize,
        accept: impl Fn(Hit) -> bool + Sync,
    ) -> Option<Hit> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let units = self.headers.get(first..=last)?;
        let strs = gimli::Section::reader(&self.dwarf.debug_str).slice();
        let want = name.as_bytes();
        let lower_found = AtomicBool::new(false);
        let search = |units: &[UnitHeader<R>], stop: Option<&AtomicBool>| -> Option<Hit> {
            let mut count = 0;
            for h in units {
                if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                    return None;
                }
                let mut hits = Vec::new();
                let walked = self.walk_unit(
                    *h,
                    |ns| ns == NameSpace::Variable,
                    &mut count,
                    |_, n, cand| {
                        let is = match n {
                            // As the index reads names: up to a NUL or the section's end.
                            Name::Str(off) => strs.get(off as usize..).is_some_and(|t| {
                                t.starts_with(want) && t.get(want.len()).is_none_or(|&b| b == 0)
                            }),
                            Name::Inline(n) => n == want,
                        };
                        if is && !cand.hit.decl {
                            hits.push(cand.hit);
                        }
                    },
                );
                if walked.is_err() {
                    damaged.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(h) = hits.into_iter().find(|&h| accept(h)) {
                    return Some(h);
                }
            }
            None
        };
        if units.len() < 8 {
            return search(units, None);
        }
        let (lower, upper) = units.split_at(units.len() / 2);
        std::thread::scope(|s| {
            let up = s.spawn(|| search(upper, Some(&lower_found)));
            let low = search(lower, None);
            if low.is_some() {
                lower_found.store(true, Ordering::Relaxed);
            }
            let up = up.join().ok().flatten();
            low.or(up)
        })
    }

    /// Index the top-level DIEs of `headers` (consecutive units), on
    /// several threads when there is enough to share. Returns the names
    /// with their candidates, the DIEs looked at, the threads used and the
    /// units that could not be read.
    fn scan_batch(&self, headers: &[UnitHeader<R>]) -> (Map, u64, usize, usize) {
        // KDEBUGINFO_THREADS overrides the thread count (for measurements).
        let threads = std::env::var("KDEBUGINFO_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
                    .min(4)
            })
            .clamp(1, 16)
            .min(headers.len().max(1));
        // Split the units into contiguous chunks of similar byte size.
        let total: usize = headers.iter().map(|h| h.length_including_self()).sum();
        let per = total / threads + 1;
        let mut chunks: Vec<&[UnitHeader<R>]> = Vec::new();
        let mut begin = 0;
        let mut acc = 0;
        for (i, h) in headers.iter().enumerate() {
            acc += h.length_including_self();
            if acc >= per && chunks.len() + 1 < threads {
                chunks.push(&headers[begin..=i]);
                begin = i + 1;
                acc = 0;
            }
        }
        chunks.push(&headers[begin..]);
        let results: Vec<(ScanMap, u64, usize)> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|chunk| s.spawn(move || self.scan_units(chunk)))
                .collect();
            handles
                .into_iter()
                // A panic in a thread is the scan's (its caller turns it
                // into an error): not an empty part presented as scanned.
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut raw = ScanMap::default();
        let mut dies = 0;
        let mut damaged = 0;
        for (i, (m, n, bad)) in results.into_iter().enumerate() {
            dies += n;
            damaged += bad;
            if i == 0 {
                raw = m;
            } else {
                merge_raw(&mut raw.by_str, m.by_str);
                merge_raw(&mut raw.inline, m.inline);
            }
        }
        let strs = gimli::Section::reader(&self.dwarf.debug_str).slice();
        let mut map = raw.inline;
        map.reserve(raw.by_str.len());
        for ((ns, off), slot) in raw.by_str {
            let Some(tail) = strs.get(off as usize..) else {
                continue;
            };
            let name = &tail[..tail.iter().position(|&c| c == 0).unwrap_or(tail.len())];
            add_to(&mut map, (ns, name), slot);
        }
        (map, dies, chunks.len(), damaged)
    }

    fn scan_units(&self, headers: &[UnitHeader<R>]) -> (ScanMap, u64, usize) {
        let mut map = ScanMap {
            by_str: HashMap::with_capacity_and_hasher(1 << 12, FxBuildHasher),
            inline: Map::default(),
        };
        let mut count = 0;
        let mut damaged = 0;
        let info = gimli::Section::reader(&self.dwarf.debug_info).slice();
        for h in headers {
            // A damaged unit is skipped; the rest of the index stays usable
            // (but is not kept for another process, see `persistable`).
            if self.scan_unit(*h, &mut map, &mut count).is_err() {
                damaged += 1;
            }
            // Keep the peak resident set small: a scanned unit is not needed
            // again until one of its types is resolved.
            if self.mmapped {
                let start = unit_start(h) as usize;
                if let Some(b) = info.get(start..start + h.length_including_self()) {
                    release_pages(b);
                }
            }
        }
        (map, count, damaged)
    }

    fn scan_unit(
        &self,
        header: UnitHeader<R>,
        map: &mut ScanMap,
        count: &mut u64,
    ) -> gimli::Result<()> {
        self.walk_unit(
            header,
            |_| true,
            count,
            |ns, name, cand| match name {
                Name::Str(s) => {
                    map.by_str
                        .entry((ns, s))
                        .and_modify(|slot| slot.add(cand))
                        .or_insert(Slot::new(cand));
                }
                Name::Inline(name) => {
                    map.inline
                        .entry((ns, name))
                        .and_modify(|slot| slot.add(cand))
                        .or_insert(Slot::new(cand));
                }
            },
        )
    }

    /// Calls `found` for every named top-level DIE of a unit whose
    /// namespace `wanted` accepts; the others are skipped unread.
    fn walk_unit(
        &self,
        header: UnitHeader<R>,
        wanted: impl Fn(NameSpace) -> bool,
        count: &mut u64,
        mut found: impl FnMut(NameSpace, Name, Cand),
    ) -> gimli::Result<()> {
        let base = unit_start(&header);
        // Not `Unit::new`: the index needs neither the line program header
        // nor the root's attributes, which it would parse for every unit.
        let abbrevs = header.abbreviations(&self.dwarf.debug_abbrev)?;
        let mut full_unit: Option<Unit> = None;
        let mut raw = header.entries_raw(&abbrevs, None)?;
        let Some(root) = raw.read_abbreviation()? else {
            return Ok(());
        };
        raw.skip_attributes(root.attributes())?;
        if !root.has_children() {
            return Ok(());
        }
        while !raw.is_empty() {
            let off = raw.next_offset();
            let Some(abbrev) = raw.read_abbreviation()? else {
                break; // end of the unit's top-level children
            };
            *count += 1;
            let ns = match abbrev.tag() {
                dw::DW_TAG_structure_type | dw::DW_TAG_class_type => Some(NameSpace::Struct),
                dw::DW_TAG_union_type => Some(NameSpace::Union),
                dw::DW_TAG_enumeration_type => Some(NameSpace::Enum),
                dw::DW_TAG_typedef => Some(NameSpace::Typedef),
                dw::DW_TAG_base_type => Some(NameSpace::Base),
                dw::DW_TAG_variable => Some(NameSpace::Variable),
                dw::DW_TAG_subprogram => Some(NameSpace::Function),
                _ => None,
            }
            .filter(|&ns| wanted(ns));
            let mut name: Option<AttributeValue<R>> = None;
            let mut decl = false;
            let mut size = 0;
            let mut sibling = None;
            let mut spec = None;
            // Unwanted attributes are skipped in runs (fixed-size forms add
            // up to one jump); past the last wanted one, a DIE with a
            // sibling pointer is left without reading the rest.
            let specs = abbrev.attributes();
            let mut run = 0;
            for (i, s) in specs.iter().enumerate() {
                let wanted = match s.name() {
                    dw::DW_AT_sibling => true,
                    dw::DW_AT_byte_size => matches!(
                        ns,
                        Some(NameSpace::Struct | NameSpace::Union | NameSpace::Enum)
                    ),
                    dw::DW_AT_name | dw::DW_AT_declaration | dw::DW_AT_specification => {
                        ns.is_some()
                    }
                    _ => false,
                };
                if !wanted {
                    continue;
                }
                raw.skip_attributes(&specs[run..i])?;
                run = i + 1;
                let attr = raw.read_attribute(*s)?;
                match s.name() {
                    dw::DW_AT_sibling => {
                        if let AttributeValue::UnitRef(o) = attr.value() {
                            sibling = Some(o);
                        }
                    }
                    dw::DW_AT_name => name = Some(attr.value()),
                    dw::DW_AT_byte_size => size = attr.udata_value().unwrap_or(0),
                    dw::DW_AT_declaration => {
                        decl = matches!(attr.value(), AttributeValue::Flag(true))
                    }
                    _ => {
                        if let AttributeValue::UnitRef(o) = attr.value() {
                            spec = Some(o);
                        }
                    }
                }
            }
            match sibling {
                Some(sib) if abbrev.has_children() && sib.0 > off.0 => {
                    raw = header.entries_raw(&abbrevs, Some(sib))?
                }
                _ => {
                    raw.skip_attributes(&specs[run..])?;
                    if abbrev.has_children() {
                        skip_children(&mut raw)?;
                    }
                }
            }
            let Some(ns) = ns else { continue };
            let name = match name {
                Some(n) => n,
                None => {
                    // A definition that refers to its declaration for the name
                    // (`DW_AT_specification`), as GCC emits for variables
                    // declared extern in a header and defined in the unit.
                    let Some(spec) = spec else { continue };
                    let Ok(e) = header.entry(&abbrevs, spec) else {
                        continue;
                    };
                    let Some(n) = e.attr_value(dw::DW_AT_name) else {
                        continue;
                    };
                    n
                }
            };
            let cand = Cand {
                hit: Hit {
                    die: base + off.0 as u64,
                    decl,
                },
                size,
                count: 1,
            };
            if let AttributeValue::DebugStrRef(s) = name {
                found(ns, Name::Str(s.0 as u64), cand);
                continue;
            }
            let name: &'static [u8] = match name {
                AttributeValue::String(n) => n.slice(),
                // Forms that need the unit's bases (`DW_FORM_strx`…).
                other => {
                    if full_unit.is_none() {
                        full_unit = Unit::new(&self.dwarf, header).ok();
                    }
                    let Some(u) = &full_unit else { continue };
                    let Ok(n) = self.dwarf.attr_string(u, other) else {
                        continue;
                    };
                    n.slice()
                }
            };
            found(ns, Name::Inline(name), cand);
        }
        Ok(())
    }
}

fn skip_children(raw: &mut gimli::EntriesRaw<'_, R>) -> gimli::Result<()> {
    let mut depth = 1usize;
    while depth > 0 {
        match raw.read_abbreviation()? {
            None => depth -= 1,
            Some(a) => {
                raw.skip_attributes(a.attributes())?;
                if a.has_children() {
                    depth += 1;
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn unit_start(h: &UnitHeader<R>) -> u64 {
    h.debug_info_offset().map(|o| o.0 as u64).unwrap_or(0)
}

impl From<gimli::Error> for Error {
    fn from(e: gimli::Error) -> Self {
        Error::Dwarf {
            path: Default::default(),
            reason: e.to_string(),
        }
    }
}

/// The fuzz target's way into the persisted-index loader: `bytes` is an
/// index file for a fixed key whose names lie in a fixed name table. The
/// checksum and unit count are taken as the file states them, so mutated
/// records reach the record loop. A loaded index must round-trip through
/// `to_bytes`.
pub(crate) fn fuzz_index_cache(bytes: &[u8]) -> Option<usize> {
    const KEY: &[u8] = b"fuzz-key";
    static FILE: &[u8] = b"task_struct\0init_task\0list_head\0mutex\0rq\0runqueues\0jiffies\0";
    let mut b = bytes.to_vec();
    let hl = Header::len(KEY);
    let mut total = 0;
    if b.len() >= hl {
        let sum = checksum(&b[hl..]);
        b[hl - 8..hl].copy_from_slice(&sum.to_le_bytes());
        total = usize::try_from(u64::from_le_bytes(b[hl - 24..hl - 16].try_into().ok()?)).ok()?;
    }
    let ix = NameIndex::from_bytes(&b, FILE, KEY, total)?;
    let stats = ix.stats();
    let _ = ix.variable_hint("jiffies");
    let again = ix.to_bytes(FILE, KEY)?;
    let ix2 = NameIndex::from_bytes(&again, FILE, KEY, total)?;
    assert_eq!(ix2.stats().names, stats.names);
    assert_eq!(ix2.stats().variables, stats.variables);
    Some(stats.names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(die: u64, size: u64) -> Cand {
        Cand {
            hit: Hit { die, decl: false },
            size,
            count: 1,
        }
    }

    fn slot_of(cands: &[Cand]) -> Slot {
        let mut s = Slot::new(cands[0]);
        for &c in &cands[1..] {
            s.add(c);
        }
        s
    }

    /// Names defined with several sizes: however the units are split into
    /// batches or threads (and merged), the winner is the one pass's.
    #[test]
    fn slots_merge_in_any_split_and_order() {
        // Sizes A=8, B=16, C=24, D=32 in section order; A is the most common.
        let seq = [
            cand(10, 8),
            cand(20, 16),
            cand(30, 16),
            cand(40, 24),
            cand(50, 32),
            cand(60, 8),
            cand(70, 8),
            cand(80, 8),
        ];
        let want = slot_of(&seq).best();
        assert_eq!(want.die, 10);
        for cut in 1..seq.len() {
            let mut merged = HashMap::with_hasher(FxBuildHasher);
            merged.insert(0, slot_of(&seq[..cut]));
            add_to(&mut merged, 0, slot_of(&seq[cut..]));
            assert_eq!(merged[&0].best().die, want.die, "cut at {cut}");
            // The later part first (another thread finished first).
            let mut rev = HashMap::with_hasher(FxBuildHasher);
            rev.insert(0, slot_of(&seq[cut..]));
            add_to(&mut rev, 0, slot_of(&seq[..cut]));
            assert_eq!(rev[&0].best().die, want.die, "reversed at {cut}");
        }
        // Equal counts: the first in the section.
        assert_eq!(slot_of(&[cand(9, 16), cand(5, 8)]).best().die, 5);
        // A declaration gives way to any definition, and the earliest
        // declaration stands while there is none.
        let decl = |die| Cand {
            hit: Hit { die, decl: true },
            ..cand(die, 0)
        };
        assert_eq!(slot_of(&[decl(7), decl(3)]).best().die, 3);
        assert_eq!(slot_of(&[decl(1), cand(9, 8), decl(0)]).best().die, 9);
    }
}
