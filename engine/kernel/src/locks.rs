//! Kernel locks, read the way the dump's own types lay them out: every kind
//! (spinlock, rwlock, mutex, rw_semaphore, rt_mutex, percpu_rw_semaphore,
//! semaphore) on native and PREEMPT_RT kernels, with their state, their
//! owner where the kernel records one, and their waiters where the lock has
//! its own wait list or tree.
//!
//! Which implementation a lock has is decided by its type's members, not by
//! the kernel's version or name: a PREEMPT_RT `rwlock_t` has `rwbase`, a
//! native one `raw_lock`; an RT `mutex` is an `rtmutex`; before 5.15 an
//! `rt_mutex` holds its own `owner` and `waiters`.

use std::collections::HashSet;

use kdebuginfo::TypeKind;

use crate::error::{Error, Result};
use crate::object::{FieldReader, Object, MAX_LIST};
use crate::tasks::Task;
use crate::Kernel;

/// The kinds of lock, by the C type that declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockKind {
    RawSpinlock,
    Spinlock,
    Rwlock,
    Mutex,
    RwSemaphore,
    RtMutex,
    PercpuRwSemaphore,
    Semaphore,
}

impl LockKind {
    /// The name rules and reports use.
    pub fn name(self) -> &'static str {
        match self {
            LockKind::RawSpinlock => "raw_spinlock",
            LockKind::Spinlock => "spinlock",
            LockKind::Rwlock => "rwlock",
            LockKind::Mutex => "mutex",
            LockKind::RwSemaphore => "rwsem",
            LockKind::RtMutex => "rt_mutex",
            LockKind::PercpuRwSemaphore => "percpu_rwsem",
            LockKind::Semaphore => "semaphore",
        }
    }

    /// The kind as its kernel type is named (`rw_semaphore`, not `rwsem`):
    /// how a kernel engineer names a lock in a sentence.
    pub fn type_word(self) -> &'static str {
        match self {
            LockKind::RwSemaphore => "rw_semaphore",
            LockKind::PercpuRwSemaphore => "percpu_rw_semaphore",
            other => other.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<LockKind> {
        ALL_KINDS.iter().copied().find(|k| k.name() == name)
    }

    /// The kind of a C type name (typedefs as the kernel spells them).
    pub fn of_type_name(ty: &str) -> Option<LockKind> {
        let t = ty.trim_start_matches("const ").trim_end_matches(" *");
        Some(match t {
            "raw_spinlock_t" | "struct raw_spinlock" | "arch_spinlock_t" | "struct qspinlock" => {
                LockKind::RawSpinlock
            }
            "spinlock_t" | "struct spinlock" => LockKind::Spinlock,
            "rwlock_t" | "struct rwlock" => LockKind::Rwlock,
            "struct mutex" => LockKind::Mutex,
            "struct rw_semaphore" => LockKind::RwSemaphore,
            "struct rt_mutex" | "struct rt_mutex_base" => LockKind::RtMutex,
            "struct percpu_rw_semaphore" => LockKind::PercpuRwSemaphore,
            "struct semaphore" => LockKind::Semaphore,
            _ => return None,
        })
    }

    /// Whether a waiter sleeps (so waits show as D) rather than spins, on
    /// a native kernel; on PREEMPT_RT every kind but raw spinlocks sleeps.
    pub fn sleeps(self, rt: bool) -> bool {
        match self {
            LockKind::RawSpinlock => false,
            LockKind::Spinlock | LockKind::Rwlock => rt,
            _ => true,
        }
    }
}

pub const ALL_KINDS: &[LockKind] = &[
    LockKind::RawSpinlock,
    LockKind::Spinlock,
    LockKind::Rwlock,
    LockKind::Mutex,
    LockKind::RwSemaphore,
    LockKind::RtMutex,
    LockKind::PercpuRwSemaphore,
    LockKind::Semaphore,
];

/// A function whose frame shows a task waiting for a lock, and the variable
/// that holds the lock's address. The outermost such frame of a stack names
/// the lock the task asked for (inner frames may name a part of it, as
/// PREEMPT_RT's `rtlock_slowlock_locked` names an rwlock's inner rtmutex).
#[derive(Debug, Clone, Copy)]
pub struct WaitSite {
    pub function: &'static str,
    pub variable: &'static str,
    /// The kind the variable points to; `None` where one function serves
    /// several kinds (rwbase_rt: an RT rwlock or rw_semaphore).
    pub kind: Option<LockKind>,
    pub mode: WaitMode,
}

/// How a task asks for a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitMode {
    /// As a reader of a reader-writer lock.
    Read,
    /// As a writer of a reader-writer lock.
    Write,
    /// A lock with one holder (mutex, spinlock, rt_mutex, semaphore), or
    /// a site that serves both modes.
    Exclusive,
}

impl WaitMode {
    pub fn name(self) -> &'static str {
        match self {
            WaitMode::Read => "read",
            WaitMode::Write => "write",
            WaitMode::Exclusive => "exclusive",
        }
    }
}

const fn site(function: &'static str, variable: &'static str, kind: Option<LockKind>) -> WaitSite {
    // The mode is in the name: every reader-writer wait site says which.
    let b = function.as_bytes();
    let mode = if contains(b, b"read") {
        WaitMode::Read
    } else if contains(b, b"write") {
        WaitMode::Write
    } else {
        WaitMode::Exclusive
    };
    WaitSite {
        function,
        variable,
        kind,
        mode,
    }
}

const fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        let mut j = 0;
        while j < needle.len() && hay[i + j] == needle[j] {
            j += 1;
        }
        if j == needle.len() {
            return true;
        }
        i += 1;
    }
    false
}

/// Where tasks wait for locks, native and PREEMPT_RT (kernel/locking/*).
pub const WAIT_SITES: &[WaitSite] = &[
    // mutex.c, and the RT mutex API (rtmutex_api.c)
    site("mutex_lock", "lock", Some(LockKind::Mutex)),
    site("__mutex_lock", "lock", Some(LockKind::Mutex)),
    site("__mutex_lock_slowpath", "lock", Some(LockKind::Mutex)),
    site("__mutex_lock_common", "lock", Some(LockKind::Mutex)),
    // rwsem.c
    site("down_read", "sem", Some(LockKind::RwSemaphore)),
    site("down_read_killable", "sem", Some(LockKind::RwSemaphore)),
    site("down_write_killable", "sem", Some(LockKind::RwSemaphore)),
    site("down_write", "sem", Some(LockKind::RwSemaphore)),
    site(
        "rwsem_down_read_slowpath",
        "sem",
        Some(LockKind::RwSemaphore),
    ),
    site(
        "rwsem_down_write_slowpath",
        "sem",
        Some(LockKind::RwSemaphore),
    ),
    // qrwlock.c, qspinlock.c
    site("queued_read_lock_slowpath", "lock", Some(LockKind::Rwlock)),
    site("queued_write_lock_slowpath", "lock", Some(LockKind::Rwlock)),
    site(
        "native_queued_spin_lock_slowpath",
        "lock",
        Some(LockKind::RawSpinlock),
    ),
    site(
        "queued_spin_lock_slowpath",
        "lock",
        Some(LockKind::RawSpinlock),
    ),
    // spinlock_rt.c: sleeping spinlocks and rwlocks
    site("rt_spin_lock", "lock", Some(LockKind::Spinlock)),
    site("rt_read_lock", "rwlock", Some(LockKind::Rwlock)),
    site("rt_write_lock", "rwlock", Some(LockKind::Rwlock)),
    // rwbase_rt.c: under an RT rwlock or rw_semaphore
    site("rwbase_read_lock", "rwb", None),
    site("__rwbase_read_lock", "rwb", None),
    site("rwbase_write_lock", "rwb", None),
    // rtmutex.c
    site("rt_mutex_slowlock", "lock", Some(LockKind::RtMutex)),
    site(
        "__rt_mutex_slowlock_locked",
        "lock",
        Some(LockKind::RtMutex),
    ),
    site("rt_mutex_slowlock_block", "lock", Some(LockKind::RtMutex)),
    site("rtlock_slowlock", "lock", Some(LockKind::RtMutex)),
    site("rtlock_slowlock_locked", "lock", Some(LockKind::RtMutex)),
    // percpu-rwsem.c, semaphore.c
    site(
        "percpu_rwsem_wait",
        "sem",
        Some(LockKind::PercpuRwSemaphore),
    ),
    site(
        "percpu_down_write",
        "sem",
        Some(LockKind::PercpuRwSemaphore),
    ),
    site("__down_common", "sem", Some(LockKind::Semaphore)),
];

/// The wait site of a function, if it is one.
pub fn wait_site(function: &str) -> Option<&'static WaitSite> {
    WAIT_SITES.iter().find(|s| s.function == function)
}

impl WaitSite {
    /// The kind of lock waited for when this is the outermost wait site of
    /// a stack. An RT rwlock is entered through `rt_read_lock` /
    /// `rt_write_lock` (exported, so never inlined into their callers),
    /// themselves wait sites further out; an rwbase site with nothing
    /// outside it is therefore an RT rw_semaphore.
    pub fn outermost_kind(&self) -> LockKind {
        self.kind.unwrap_or(LockKind::RwSemaphore)
    }
}

/// What a task waits for: the lock's address, its kind (the outermost
/// wait site's, see [`WaitSite::outermost_kind`]), how and where it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedOn {
    pub addr: u64,
    pub kind: LockKind,
    pub mode: WaitMode,
    pub function: String,
}

/// A lock's state as the kernel records it. Fields a kind does not have are
/// `None`: unknown, never guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockState {
    pub kind: LockKind,
    pub addr: u64,
    /// Built on rt_mutex / rwbase_rt (PREEMPT_RT).
    pub rt: bool,
    /// Held at all (by a writer or by readers).
    pub locked: bool,
    /// Readers holding a reader-writer lock, where countable.
    pub readers: Option<u64>,
    pub writer_locked: Option<bool>,
    pub writer_waiting: Option<bool>,
    /// The owning task's address where the kernel records one (mutex,
    /// rwsem writer, rt_mutex, RT spinlock/rwlock writer).
    pub owner: Option<u64>,
    /// Whether this kind records an owner at all: `false` means "unknown",
    /// not "free".
    pub owner_recorded: bool,
    /// An rwsem marked reader-owned (the owner field is then a hint only).
    pub reader_owned: bool,
    /// PREEMPT_RT rwlock/rwsem: the writer holding the inner rtmutex while it
    /// waits for readers to leave (None once it holds the lock: it is then
    /// the `owner`). Other writers and readers queue behind it.
    pub queued_writer: Option<u64>,
    /// The raw counter word (cnts, count, owner or val), for reports.
    pub raw: u64,
    /// Tasks queued in the lock's own wait list or tree; `None` for kinds
    /// without one (waiters spin: find them by their stacks).
    pub waiters: Option<Vec<u64>>,
}

fn resolve_kind(o: &Object<'_>) -> Result<LockKind> {
    let name = o.type_name();
    if let Some(k) = LockKind::of_type_name(&name) {
        return Ok(k);
    }
    // Through typedefs: the struct's own name.
    let t = o.resolved()?;
    let n = t.name().unwrap_or_default().to_string();
    LockKind::of_type_name(&format!("struct {n}"))
        .or_else(|| LockKind::of_type_name(&n))
        .ok_or_else(|| Error::Type(format!("{name} is not a lock type")))
}

impl Kernel {
    /// The kind of lock an object is, from its type.
    pub fn lock_kind(&self, o: &Object<'_>) -> Result<LockKind> {
        let o = match o.resolved()?.kind {
            TypeKind::Pointer { .. } => o.deref()?,
            _ => *o,
        };
        resolve_kind(&o)
    }

    /// Reads a lock of a known kind at `addr`, typed by the kernel's own
    /// declaration of that kind.
    pub fn lock_at(&self, addr: u64, kind: LockKind) -> Result<LockState> {
        self.lock_state(&self.lock_object(addr, kind)?)
    }

    /// The lock of a kind at `addr` as a typed object.
    pub fn lock_object(&self, addr: u64, kind: LockKind) -> Result<Object<'_>> {
        let ty = match kind {
            LockKind::RawSpinlock => "raw_spinlock_t",
            LockKind::Spinlock => "spinlock_t",
            LockKind::Rwlock => "rwlock_t",
            LockKind::Mutex => "struct mutex",
            LockKind::RwSemaphore => "struct rw_semaphore",
            LockKind::RtMutex => "struct rt_mutex",
            LockKind::PercpuRwSemaphore => "struct percpu_rw_semaphore",
            LockKind::Semaphore => "struct semaphore",
        };
        self.object(addr, ty)
    }

    /// The state of a lock object (or of the lock a pointer points to).
    pub fn lock_state(&self, o: &Object<'_>) -> Result<LockState> {
        let o = match o.resolved()?.kind {
            TypeKind::Pointer { .. } => o.deref()?,
            _ => *o,
        };
        let kind = resolve_kind(&o)?;
        let mut s = LockState {
            kind,
            addr: o.addr,
            rt: false,
            locked: false,
            readers: None,
            writer_locked: None,
            writer_waiting: None,
            owner: None,
            owner_recorded: false,
            reader_owned: false,
            queued_writer: None,
            raw: 0,
            waiters: None,
        };
        match kind {
            LockKind::RawSpinlock => self.qspinlock(&o, &mut s)?,
            LockKind::Spinlock => {
                if o.has_member("rlock") {
                    self.qspinlock(&o.member("rlock")?, &mut s)?;
                } else {
                    // PREEMPT_RT: spinlock_t is an rt_mutex_base.
                    self.rtmutex_base(&o.member("lock")?, &mut s)?;
                }
            }
            LockKind::Rwlock => {
                if o.has_member("rwbase") {
                    self.rwbase(&o.member("rwbase")?, &mut s)?;
                } else {
                    self.qrwlock(&o.member("raw_lock")?, &mut s)?;
                }
            }
            LockKind::Mutex => {
                if o.has_member("rtmutex") {
                    self.rtmutex_base(&o.member("rtmutex")?, &mut s)?;
                } else {
                    let w = word(&o, "owner")?;
                    s.raw = w;
                    s.owner_recorded = true;
                    // The low three bits are flags (waiters, handoff, pickup).
                    s.owner = nonzero(w & !0x7);
                    s.locked = s.owner.is_some();
                    s.waiters = Some(self.wait_list(&o, "struct mutex_waiter")?);
                }
            }
            LockKind::RwSemaphore => {
                if o.has_member("rwbase") {
                    self.rwbase(&o.member("rwbase")?, &mut s)?;
                } else {
                    self.native_rwsem(&o, &mut s)?;
                }
            }
            LockKind::RtMutex => {
                if o.has_member("rtmutex") {
                    self.rtmutex_base(&o.member("rtmutex")?, &mut s)?;
                } else {
                    // Before 5.15 the rt_mutex is its own base.
                    self.rtmutex_base(&o, &mut s)?;
                }
            }
            LockKind::PercpuRwSemaphore => {
                let block = o.member("block.counter")?.as_u64()?;
                s.raw = block;
                s.writer_locked = Some(block != 0);
                s.locked = block != 0;
                s.waiters = Some(self.wait_queue_tasks(o.member("waiters")?.addr)?);
            }
            LockKind::Semaphore => {
                let count = o.member("count")?.as_u64()?;
                s.raw = count;
                s.locked = count == 0;
                s.waiters = Some(self.wait_list(&o, "struct semaphore_waiter")?);
            }
        }
        s.rt = s.rt || o.has_member("rwbase") || o.has_member("rtmutex");
        Ok(s)
    }

    /// The `rt_mutex_base` a PREEMPT_RT task is queued on: its
    /// `pi_blocked_on` waiter's `lock`. `None` if it waits on none (or
    /// the kernel has no rt_mutex, or the waiter is unreadable).
    pub fn rt_waiting_on(&self, t: &crate::tasks::Task<'_>) -> Option<u64> {
        let w = t.obj.member("pi_blocked_on").ok()?.as_u64().ok()?;
        if w == 0 {
            return None;
        }
        let base = self
            .object(w, "struct rt_mutex_waiter")
            .ok()?
            .member("lock")
            .ok()?
            .as_u64()
            .ok()?;
        nonzero(base)
    }

    /// The lock of a kind whose `rt_mutex_base` is at `base` (what
    /// [`Kernel::rt_waiting_on`] names), where that kind is built on an
    /// rt_mutex: a PREEMPT_RT `spinlock_t` (`lock`), `mutex` (`rtmutex`),
    /// `rwlock_t` and `rw_semaphore` (`rwbase.rtmutex`), an `rt_mutex`
    /// (`rtmutex`, or itself before 5.15). `None` for a kind that is not.
    pub fn rt_lock_of_base(&self, base: u64, kind: LockKind) -> Option<u64> {
        let o = self.lock_object(0, kind).ok()?;
        let path = match kind {
            LockKind::Spinlock => "lock",
            LockKind::Mutex => "rtmutex",
            LockKind::Rwlock | LockKind::RwSemaphore => "rwbase.rtmutex",
            LockKind::RtMutex if !o.has_member("rtmutex") => return Some(base),
            LockKind::RtMutex => "rtmutex",
            _ => return None,
        };
        // The native kinds have no such member: not built on an rt_mutex.
        let off = o.member(path).ok()?.addr;
        Some(base.wrapping_sub(off))
    }

    /// Whether a global of the vmlinux whose declared type is a lock of
    /// `kind` starts at `addr` (a module's globals have no type here).
    pub fn is_global_lock(&self, addr: u64, kind: LockKind) -> bool {
        let Some(sym) = self.symbol_of(addr) else {
            return false;
        };
        sym.offset == 0
            && sym.module.is_none()
            && self
                .global(&sym.name)
                .is_ok_and(|g| g.addr == addr && self.lock_kind(&g).ok() == Some(kind))
    }

    /// qspinlock: locked byte, pending bit, and a tail naming queued CPUs.
    fn qspinlock(&self, raw: &Object<'_>, s: &mut LockState) -> Result<()> {
        let q = if raw.has_member("raw_lock") {
            raw.member("raw_lock")?
        } else {
            *raw
        };
        let val = q.member("val.counter")?.as_u64()? as u32;
        s.raw = val as u64;
        s.locked = val & 0xff != 0;
        // pending (bit 8) or a queue tail (bits 16+): someone is spinning.
        s.writer_waiting = Some(val & 0xffff_ff00 != 0);
        Ok(())
    }

    /// Native rwlock_t (qrwlock): readers << 9 | waiting 0x100 | locked 0xff.
    fn qrwlock(&self, raw: &Object<'_>, s: &mut LockState) -> Result<()> {
        let cnts = raw.member("cnts.counter")?.as_u64()? as u32;
        s.raw = cnts as u64;
        s.readers = Some((cnts >> 9) as u64);
        s.writer_locked = Some(cnts & 0xff == 0xff);
        s.writer_waiting = Some(cnts & 0x100 != 0);
        s.locked = cnts & 0xff == 0xff || cnts >> 9 != 0;
        Ok(())
    }

    /// Native rw_semaphore: count (writer bit 0, readers from bit 8) and an
    /// owner word (task | reader-owned 1 | non-spinnable 2).
    fn native_rwsem(&self, o: &Object<'_>, s: &mut LockState) -> Result<()> {
        let count = o.member("count.counter")?.as_u64()?;
        let owner = word(o, "owner")?;
        s.raw = count;
        let writer = count & 1 != 0;
        s.writer_locked = Some(writer);
        s.readers = Some(count >> 8);
        s.locked = writer || count >> 8 != 0;
        s.reader_owned = owner & 1 != 0;
        s.owner_recorded = true;
        // A writer records itself; readers leave at most the last one as a
        // hint, which is no ownership.
        s.owner = if writer { nonzero(owner & !0x7) } else { None };
        s.waiters = Some(self.wait_list(o, "struct rwsem_waiter")?);
        Ok(())
    }

    /// PREEMPT_RT rwlock_t / rw_semaphore (rwbase_rt): `readers` is
    /// READER_BIAS plus the readers while no writer is in; a writer removes
    /// the bias, waits for the readers to leave, then sets WRITER_BIAS.
    fn rwbase(&self, rwb: &Object<'_>, s: &mut LockState) -> Result<()> {
        const READER_BIAS: u32 = 1 << 31;
        const WRITER_BIAS: u32 = 1 << 30;
        let r = rwb.member("readers.counter")?.as_u64()? as u32;
        self.rtmutex_base(&rwb.member("rtmutex")?, s)?;
        s.queued_writer = s.owner;
        s.raw = r as u64;
        s.rt = true;
        if r & READER_BIAS != 0 {
            let n = (r & !READER_BIAS) as u64;
            s.readers = Some(n);
            s.writer_locked = Some(false);
            s.writer_waiting = Some(false);
            s.locked = n != 0;
            // Readers hold no rtmutex and are recorded nowhere: unknown.
            s.owner = None;
            s.owner_recorded = n == 0;
        } else if r == WRITER_BIAS {
            // The writer is in: it holds the rtmutex as the lock's owner,
            // not as a writer in line.
            s.queued_writer = None;
            s.readers = Some(0);
            s.writer_locked = Some(true);
            s.writer_waiting = Some(false);
            s.locked = true;
        } else {
            // A writer (the rtmutex owner) waits for `r` readers to leave.
            s.readers = Some(r as u64);
            s.writer_locked = Some(false);
            s.writer_waiting = Some(true);
            s.locked = true;
            s.owner = None;
            s.owner_recorded = false;
        }
        Ok(())
    }

    /// rt_mutex_base: owner (task | has-waiters bit 0) and a red-black tree
    /// of `struct rt_mutex_waiter`.
    fn rtmutex_base(&self, b: &Object<'_>, s: &mut LockState) -> Result<()> {
        let w = b.member("owner")?.as_u64()?;
        s.rt = true;
        s.raw = w;
        s.owner_recorded = true;
        s.owner = nonzero(w & !1);
        s.locked = s.owner.is_some();
        let root = b.member("waiters")?;
        let root = if root.has_member("rb_root") {
            root.member("rb_root")?
        } else {
            root
        };
        let waiter = self.find_type("struct rt_mutex_waiter")?;
        let sample = Object::new(self, 0, waiter);
        let entry = if sample.has_member("tree.entry") {
            sample.member("tree.entry")?.addr
        } else {
            sample.member("tree_entry")?.addr
        };
        let task = sample.member("task")?.addr;
        let mut out = Vec::new();
        for node in self.rbtree_nodes(root.member("rb_node")?.as_u64()?)? {
            out.push(self.read_u64(node.wrapping_sub(entry).wrapping_add(task))?);
        }
        s.waiters = Some(out);
        Ok(())
    }

    /// Tasks of a `wait_list` of waiter structs that have `list` and `task`.
    fn wait_list(&self, lock: &Object<'_>, waiter_type: &str) -> Result<Vec<u64>> {
        let head = lock.member("wait_list")?.addr;
        let mut out = Vec::new();
        for w in self.list_entries(head, waiter_type, "list")? {
            out.push(w.member("task")?.as_u64()?);
        }
        Ok(out)
    }

    /// Tasks sleeping on a wait queue head (`wait_queue_entry.private`).
    fn wait_queue_tasks(&self, head: u64) -> Result<Vec<u64>> {
        let ty = "struct wait_queue_entry";
        let list = self
            .object(head, "struct wait_queue_head")?
            .member("head")?;
        let mut out = Vec::new();
        for w in self.list_entries(list.addr, ty, "entry")? {
            out.push(w.member("private")?.as_u64()?);
        }
        Ok(out)
    }

    /// The nodes of a red-black tree in order (bounded: a cycle or too many
    /// nodes is an error).
    pub fn rbtree_nodes(&self, root: u64) -> Result<Vec<u64>> {
        // struct rb_node { __rb_parent_color; rb_right; rb_left }: the
        // layout is ABI of include/linux/rbtree_types.h.
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = Vec::new();
        let mut cur = root;
        loop {
            while cur != 0 {
                if !seen.insert(cur) || seen.len() > MAX_LIST {
                    return Err(Error::BadList {
                        head: root,
                        reason: format!("red-black tree node {cur:#x} revisited"),
                    });
                }
                stack.push(cur);
                cur = self.read_u64(cur + 16)?;
            }
            let Some(n) = stack.pop() else { break };
            out.push(n);
            cur = self.read_u64(n + 8)?;
        }
        Ok(out)
    }
}

fn nonzero(v: u64) -> Option<u64> {
    (v != 0).then_some(v)
}

/// An `atomic_long_t` or plain word member.
fn word(o: &Object<'_>, member: &str) -> Result<u64> {
    let m = o.member(member)?;
    if m.has_member("counter") {
        m.member("counter")?.as_u64()
    } else {
        m.as_u64()
    }
}

/// One contended lock of a [`WaitGraph`].
#[derive(Debug, Clone)]
pub struct ContendedLock {
    pub addr: u64,
    pub kind: Option<LockKind>,
    /// The global it is (`tasklist_lock`, `vault_lock [mymod]`), if any.
    pub name: Option<String>,
    /// The kernel object it is a member of, for a lock that is no global
    /// (a process's `mm->mmap_lock`), where the model finds one.
    pub home: Option<LockHome>,
    /// Its state, or why it could not be read.
    pub state: std::result::Result<LockState, String>,
    /// Tasks waiting for it: its own wait list (in queue order) and every
    /// task whose stack waits on it, each once.
    pub waiters: Vec<u64>,
}

/// The object a lock is embedded in: `&mm->mmap_lock` is the lock at
/// `container + offset` of a `struct mm_struct`, the address space of the
/// process `task`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHome {
    /// The containing struct's name (`mm_struct`).
    pub container: &'static str,
    /// The member the lock is, by this kernel's name (`mmap_lock`, or
    /// `mmap_sem` before 5.8).
    pub member: &'static str,
    /// The containing object's address.
    pub addr: u64,
    /// The process it belongs to (its thread-group leader's task_struct).
    pub task: Option<u64>,
}

/// The wait-for graph: task → lock it waits for → the lock's owner → …
#[derive(Debug, Clone, Default)]
pub struct WaitGraph {
    /// Contended locks, most waiters first.
    pub locks: Vec<ContendedLock>,
    /// task → the lock it waits for (index into `locks`).
    pub waits: std::collections::HashMap<u64, usize>,
    /// Every cycle, each as its tasks in wait order, starting at the
    /// lowest task address; only cycles whose every owner is recorded.
    pub cycles: Vec<Vec<u64>>,
}

impl WaitGraph {
    /// The owner of a lock where the kernel records it.
    pub fn owner(&self, lock: usize) -> Option<u64> {
        self.locks.get(lock)?.state.as_ref().ok()?.owner
    }

    /// Whom `task` waits for through `lock`: the owner, or on PREEMPT_RT's
    /// rwbase the writer queued first (a writer waiting for readers waits
    /// for nobody known).
    pub fn blocker(&self, task: u64, lock: usize) -> Option<u64> {
        let st = self.locks.get(lock)?.state.as_ref().ok()?;
        st.owner.or(st.queued_writer).filter(|&o| o != task)
    }

    /// Every cycle of the graph, each once (rotated to start at its lowest
    /// task address), sorted: follows each chain; a chain that returns to
    /// one of its own tasks closes a cycle.
    pub fn find_cycles(&mut self) {
        let mut seen = HashSet::new();
        let mut cycles = Vec::new();
        for &t in self.waits.keys() {
            let chain = self.chain(t);
            let Some(&(last, Some(l))) = chain.last() else {
                continue;
            };
            let Some(next) = self.blocker(last, l) else {
                continue;
            };
            if let Some(start) = chain.iter().position(|(x, _)| *x == next) {
                let mut cyc: Vec<u64> = chain[start..].iter().map(|(x, _)| *x).collect();
                let min = cyc
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, a)| **a)
                    .map(|(i, _)| i);
                cyc.rotate_left(min.unwrap_or(0));
                if seen.insert(cyc.clone()) {
                    cycles.push(cyc);
                }
            }
        }
        cycles.sort();
        self.cycles = cycles;
    }

    /// The chain from `task`: each (task, lock it waits for), ending at a
    /// task that waits for nothing, a lock whose owner is unknown, or the
    /// first task seen again (a cycle).
    pub fn chain(&self, task: u64) -> Vec<(u64, Option<usize>)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = task;
        while seen.insert(cur) && out.len() < 4096 {
            let lock = self.waits.get(&cur).copied();
            out.push((cur, lock));
            match lock.and_then(|l| self.blocker(cur, l)) {
                Some(o) => cur = o,
                None => break,
            }
        }
        out
    }
}

impl Kernel {
    /// Builds the wait-for graph of `tasks` (task_struct addresses), asking
    /// `blocked_on` (the unwinder) what each waits for.
    pub fn wait_graph(
        &self,
        tasks: &[u64],
        blocked_on: impl Fn(u64) -> Option<BlockedOn>,
    ) -> WaitGraph {
        let mut g = WaitGraph::default();
        let mut by_addr: std::collections::HashMap<u64, usize> = Default::default();
        for &t in tasks {
            let Some(b) = blocked_on(t) else { continue };
            let i = *by_addr.entry(b.addr).or_insert_with(|| {
                let state = self.lock_at(b.addr, b.kind).map_err(|e| e.to_string());
                g.locks.push(ContendedLock {
                    addr: b.addr,
                    kind: Some(state.as_ref().map_or(b.kind, |s| s.kind)),
                    name: self.data_symbol(b.addr),
                    home: None,
                    waiters: state
                        .as_ref()
                        .ok()
                        .and_then(|s| s.waiters.clone())
                        .unwrap_or_default(),
                    state,
                });
                g.locks.len() - 1
            });
            if !g.locks[i].waiters.contains(&t) {
                g.locks[i].waiters.push(t);
            }
            g.waits.insert(t, i);
        }
        self.find_homes(tasks, &mut g.locks);
        g.find_cycles();
        // Most waiters first; keep `waits` pointing at the same locks.
        let mut order: Vec<usize> = (0..g.locks.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(g.locks[i].waiters.len()), g.locks[i].addr));
        let mut new_index = vec![0; order.len()];
        for (n, &o) in order.iter().enumerate() {
            new_index[o] = n;
        }
        let mut locks: Vec<Option<ContendedLock>> = g.locks.into_iter().map(Some).collect();
        g.locks = order.iter().filter_map(|&o| locks[o].take()).collect();
        for v in g.waits.values_mut() {
            *v = new_index[*v];
        }
        g
    }
}

impl Kernel {
    /// The wait-for graph of a task list: the tasks that can wait for a
    /// lock (asleep in D, or on a CPU spinning) are asked what they wait
    /// for, by their index and task (`blocked_on`: the unwinder's answer);
    /// the others are not unwound. The rules' model and the titles build
    /// their graph here, so both see one.
    pub fn tasks_wait_graph<'k>(
        &'k self,
        tasks: &[Task<'k>],
        mut blocked_on: impl FnMut(usize, &Task<'k>) -> Option<BlockedOn>,
    ) -> WaitGraph {
        let mut addrs = Vec::new();
        let mut blocked = std::collections::HashMap::new();
        for (i, t) in tasks.iter().enumerate() {
            if t.state == 'D' || self.task_on_cpu(t) {
                addrs.push(t.addr());
                if let Some(b) = blocked_on(i, t) {
                    blocked.insert(t.addr(), b);
                }
            }
        }
        self.wait_graph(&addrs, |a| blocked.get(&a).cloned())
    }

    /// Names the containing object of each unnamed lock where it is a
    /// process's `mm->mmap_lock` (`mmap_sem` before 5.8): the one place a
    /// sleeping lock of every process lives. Reads each task's `mm` once;
    /// a task whose `mm` cannot be read simply names nothing.
    fn find_homes(&self, tasks: &[u64], locks: &mut [ContendedLock]) {
        let unnamed: HashSet<u64> = locks
            .iter()
            .filter(|l| l.name.is_none())
            .map(|l| l.addr)
            .collect();
        if unnamed.is_empty() {
            return;
        }
        let Some(&first) = tasks.first() else { return };
        let Ok(sample) = self.object(first, "struct task_struct") else {
            return;
        };
        let (Ok(mm_of), Ok(leader_of)) = (
            FieldReader::new(&sample, "mm"),
            FieldReader::new(&sample, "group_leader"),
        ) else {
            return;
        };
        let Some((member, offset)) = self.find_type("struct mm_struct").ok().and_then(|ty| {
            ["mmap_lock", "mmap_sem"]
                .into_iter()
                .find_map(|m| Some((m, self.debug.member_path(ty, m).ok()?.offset)))
        }) else {
            return;
        };
        let mut found: std::collections::HashMap<u64, LockHome> = Default::default();
        for &t in tasks {
            let Ok(mm) = mm_of.read_u64(self, t) else {
                continue;
            };
            let lock = mm.wrapping_add(offset);
            if mm == 0 || !unnamed.contains(&lock) || found.contains_key(&lock) {
                continue;
            }
            found.insert(
                lock,
                LockHome {
                    container: "mm_struct",
                    member,
                    addr: mm,
                    task: leader_of.read_u64(self, t).ok().filter(|&l| l != 0),
                },
            );
        }
        for l in locks.iter_mut() {
            l.home = found.remove(&l.addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutex(addr: u64, owner: Option<u64>, waiters: &[u64]) -> ContendedLock {
        ContendedLock {
            addr,
            kind: Some(LockKind::Mutex),
            name: None,
            home: None,
            state: Ok(LockState {
                kind: LockKind::Mutex,
                addr,
                rt: false,
                locked: owner.is_some(),
                readers: None,
                writer_locked: None,
                writer_waiting: None,
                owner,
                owner_recorded: true,
                reader_owned: false,
                queued_writer: None,
                raw: owner.unwrap_or(0),
                waiters: Some(waiters.to_vec()),
            }),
            waiters: waiters.to_vec(),
        }
    }

    fn graph(locks: Vec<ContendedLock>) -> WaitGraph {
        let mut g = WaitGraph::default();
        for (i, l) in locks.iter().enumerate() {
            for w in &l.waiters {
                g.waits.insert(*w, i);
            }
        }
        g.locks = locks;
        g.find_cycles();
        g
    }

    #[test]
    fn abba_and_a_longer_cycle_with_a_task_queued_behind() {
        // 1 holds A, waits B; 2 holds B, waits A; 3 waits A (behind the
        // cycle, not in it). 4 -> C(5) -> D(6) -> E(4): a cycle of three.
        let g = graph(vec![
            mutex(0xa, Some(1), &[2, 3]),
            mutex(0xb, Some(2), &[1]),
            mutex(0xc, Some(5), &[4]),
            mutex(0xd, Some(6), &[5]),
            mutex(0xe, Some(4), &[6]),
        ]);
        assert_eq!(g.cycles, vec![vec![1, 2], vec![4, 5, 6]]);
        let chain: Vec<u64> = g.chain(3).iter().map(|c| c.0).collect();
        assert_eq!(chain, vec![3, 1, 2]);
    }

    #[test]
    fn unknown_owner_ends_a_chain_and_makes_no_cycle() {
        // 1 waits for a lock held by readers (no owner recorded).
        let mut readers = mutex(0xa, None, &[1]);
        if let Ok(st) = &mut readers.state {
            st.owner_recorded = false;
            st.kind = LockKind::Rwlock;
        }
        let g = graph(vec![readers, mutex(0xb, Some(1), &[2])]);
        assert!(g.cycles.is_empty());
        let chain: Vec<u64> = g.chain(2).iter().map(|c| c.0).collect();
        assert_eq!(chain, vec![2, 1]);
    }

    #[test]
    fn an_rt_writer_waiting_for_readers_is_not_its_own_blocker() {
        let mut l = mutex(0xa, None, &[7, 8]);
        if let Ok(st) = &mut l.state {
            st.queued_writer = Some(7);
        }
        let g = graph(vec![l]);
        assert!(g.cycles.is_empty());
        assert_eq!(g.blocker(8, 0), Some(7));
        assert_eq!(g.blocker(7, 0), None);
    }

    #[test]
    fn wait_site_modes_and_kinds() {
        let m = |f: &str| wait_site(f).map(|s| (s.mode, s.outermost_kind()));
        assert_eq!(
            m("rwsem_down_read_slowpath"),
            Some((WaitMode::Read, LockKind::RwSemaphore))
        );
        assert_eq!(
            m("rt_write_lock"),
            Some((WaitMode::Write, LockKind::Rwlock))
        );
        assert_eq!(
            m("__rwbase_read_lock"),
            Some((WaitMode::Read, LockKind::RwSemaphore))
        );
        assert_eq!(
            m("__mutex_lock"),
            Some((WaitMode::Exclusive, LockKind::Mutex))
        );
        assert_eq!(m("schedule"), None);
    }
}
