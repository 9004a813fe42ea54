//! Typed objects: an address plus a DWARF type, read on demand.

use std::collections::HashSet;
use std::sync::Arc;

use kdebuginfo::{Encoding, Type, TypeId, TypeKind};

use crate::error::{Error, Result};
use crate::Kernel;

/// Lists longer than this are treated as corrupt (the biggest real lists —
/// tasks on a large machine — stay far below).
pub const MAX_LIST: usize = 4_000_000;

#[derive(Clone, Copy)]
pub struct Object<'k> {
    pub k: &'k Kernel,
    pub addr: u64,
    pub ty: TypeId,
    /// For a bitfield member: (bit offset within the byte at `addr`, width).
    pub bits: Option<(u64, u64)>,
}

impl std::fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}){:#x}", self.type_name(), self.addr)
    }
}

impl<'k> Object<'k> {
    pub fn new(k: &'k Kernel, addr: u64, ty: TypeId) -> Object<'k> {
        Object {
            k,
            addr,
            ty,
            bits: None,
        }
    }

    pub fn type_name(&self) -> String {
        self.k.debug.type_name(self.ty)
    }

    /// The type with typedefs and qualifiers removed.
    pub fn resolved(&self) -> Result<Arc<Type>> {
        let id = self.k.debug.strip_typedefs_and_cv(self.ty)?;
        Ok(self.k.debug.type_of(id)?)
    }

    pub fn size(&self) -> Result<u64> {
        Ok(self.k.debug.sizeof(self.ty)?)
    }

    /// Member access by dotted path; pointers along the way are followed
    /// (`signal.nr_threads` on a task works as `task->signal->nr_threads`).
    pub fn member(&self, path: &str) -> Result<Object<'k>> {
        let mut cur = *self;
        for comp in path.split('.') {
            if let TypeKind::Pointer { .. } = cur.resolved()?.kind {
                cur = cur.deref()?;
            }
            let info = self
                .k
                .debug
                .member_path(cur.ty, comp)
                .map_err(|e| match e {
                    kdebuginfo::Error::NoMember { ty, member } => Error::Type(format!(
                        "no member `{member}` in {ty} on {}",
                        self.k.release
                    )),
                    other => Error::Debug(other),
                })?;
            cur = Object {
                k: self.k,
                addr: cur.addr.wrapping_add(info.offset),
                ty: info.ty,
                bits: match (info.bit_offset, info.bit_size) {
                    (Some(o), Some(s)) => Some((o, s)),
                    _ => None,
                },
            };
        }
        Ok(cur)
    }

    /// Whether a member path exists in this kernel's type (no memory is read).
    pub fn has_member(&self, path: &str) -> bool {
        let mut ty = self.ty;
        for comp in path.split('.') {
            let Ok(id) = self.k.debug.strip_typedefs_and_cv(ty) else {
                return false;
            };
            if let Ok(t) = self.k.debug.type_of(id) {
                if let TypeKind::Pointer { target } = t.kind {
                    ty = target;
                }
            }
            match self.k.debug.member_path(ty, comp) {
                Ok(i) => ty = i.ty,
                Err(_) => return false,
            }
        }
        true
    }

    /// `*p`.
    pub fn deref(&self) -> Result<Object<'k>> {
        match self.resolved()?.kind {
            TypeKind::Pointer { target } => Ok(Object::new(self.k, self.read_word()?, target)),
            _ => Err(Error::Type(format!(
                "cannot dereference {}",
                self.type_name()
            ))),
        }
    }

    /// `a[i]` for arrays, `p[i]` for pointers.
    pub fn index(&self, i: u64) -> Result<Object<'k>> {
        match self.resolved()?.kind {
            TypeKind::Array { elem, count } => {
                if let Some(c) = count {
                    if i >= c {
                        return Err(Error::Type(format!(
                            "index {i} out of bounds of {}",
                            self.type_name()
                        )));
                    }
                }
                let sz = self.k.debug.sizeof(elem)?;
                Ok(Object::new(self.k, self.addr + i * sz, elem))
            }
            TypeKind::Pointer { target } => {
                let sz = self.k.debug.sizeof(target)?;
                Ok(Object::new(self.k, self.read_word()? + i * sz, target))
            }
            _ => Err(Error::Type(format!("cannot index {}", self.type_name()))),
        }
    }

    /// Reinterprets the object (or, for a pointer, its target) as another type.
    pub fn cast(&self, type_name: &str) -> Result<Object<'k>> {
        Ok(Object::new(self.k, self.addr, self.k.find_type(type_name)?))
    }

    fn read_word(&self) -> Result<u64> {
        self.k.read_u64(self.addr)
    }

    /// The byte size of an integer, enum, bool, char or pointer (1 to 8).
    fn scalar_size(&self) -> Result<u64> {
        let size = match &self.resolved()?.kind {
            TypeKind::Base { size, .. } | TypeKind::Enum { size, .. } => *size,
            TypeKind::Pointer { .. } => 8,
            _ => {
                return Err(Error::Type(format!(
                    "{} is not an integer",
                    self.type_name()
                )))
            }
        };
        if !(1..=8).contains(&size) {
            return Err(Error::Type(format!("{} has size {size}", self.type_name())));
        }
        Ok(size)
    }

    /// What a one-member wrapper struct wraps, through nested wrappers
    /// (`atomic_t` → `counter`, `refcount_t` → `refs.counter`, `kuid_t` →
    /// `val`); `None` when this is no such struct.
    pub fn unwrapped(&self) -> Option<Object<'k>> {
        let mut cur = *self;
        let mut found = false;
        for _ in 0..4 {
            let t = cur.resolved().ok()?;
            let TypeKind::Struct { members, .. } = &t.kind else {
                break;
            };
            let [m] = members.as_slice() else { break };
            cur = cur.member(m.name.as_deref()?).ok()?;
            found = true;
        }
        found.then_some(cur)
    }

    /// The raw unsigned value of an integer, enum, bool, char or pointer.
    pub fn as_u64(&self) -> Result<u64> {
        read_scalar(self.k, self.addr, self.scalar_size()?, self.bits)
    }

    /// The value as a signed integer, sign-extended by the C type's width.
    pub fn as_i64(&self) -> Result<i64> {
        let v = self.as_u64()?;
        let t = self.resolved()?;
        let (signed, bits) = match &t.kind {
            TypeKind::Base { size, encoding, .. } => (
                matches!(encoding, Encoding::Signed | Encoding::Char { signed: true }),
                size * 8,
            ),
            TypeKind::Enum { size, signed, .. } => (*signed, size * 8),
            _ => (false, 64),
        };
        let bits = self.bits.map(|(_, w)| w).unwrap_or(bits);
        Ok(sign_extend(v, bits, signed))
    }

    /// Whether the C type is a signed integer.
    pub fn is_signed(&self) -> bool {
        match self.resolved().map(|t| t.kind.clone()) {
            Ok(TypeKind::Base { encoding, .. }) => {
                matches!(encoding, Encoding::Signed | Encoding::Char { signed: true })
            }
            Ok(TypeKind::Enum { signed, .. }) => signed,
            _ => false,
        }
    }

    /// The enumerator name of an enum value, if it has one.
    pub fn enum_name(&self) -> Result<Option<String>> {
        let t = self.resolved()?;
        if let TypeKind::Enum { enumerators, .. } = &t.kind {
            let v = self.as_i64()?;
            return Ok(enumerators
                .iter()
                .find(|(_, x)| *x == v)
                .map(|(n, _)| n.clone()));
        }
        Ok(None)
    }

    /// A C string: a `char[N]` read up to its NUL, or a `char *` followed.
    pub fn string(&self) -> Result<String> {
        match self.resolved()?.kind {
            TypeKind::Array { count, .. } => {
                let n = count.unwrap_or(256).min(4096) as usize;
                let mut b = vec![0u8; n];
                self.k.read(self.addr, &mut b)?;
                Ok(c_string(&b))
            }
            TypeKind::Pointer { .. } => {
                let p = self.read_word()?;
                if p == 0 {
                    return Err(Error::Type("NULL string pointer".into()));
                }
                self.k.read_cstr(p, 4096)
            }
            _ => Err(Error::Type(format!("{} is not a string", self.type_name()))),
        }
    }

    /// The object containing this one: `container_of(self, type, member)`.
    pub fn container_of(&self, type_name: &str, member: &str) -> Result<Object<'k>> {
        let ty = self.k.find_type(type_name)?;
        let off = self.k.debug.member_path(ty, member)?.offset;
        Ok(Object::new(self.k, self.addr.wrapping_sub(off), ty))
    }
}

/// Reads an integer of `size` bytes at `addr`, or the bitfield `bits`
/// (bit offset within the byte at `addr`, width) stored there.
fn read_scalar(k: &Kernel, addr: u64, size: u64, bits: Option<(u64, u64)>) -> Result<u64> {
    let mut b = [0u8; 8];
    match bits {
        None => {
            k.read(addr, &mut b[..size as usize])?;
            Ok(u64::from_le_bytes(b))
        }
        Some((off, width)) => {
            // A bitfield can straddle its storage unit: read enough bytes.
            let need = (off + width).div_ceil(8).min(8) as usize;
            k.read(addr, &mut b[..need])?;
            let v = u64::from_le_bytes(b) >> off;
            Ok(if width < 64 {
                v & ((1u64 << width) - 1)
            } else {
                v
            })
        }
    }
}

/// `v` as a C integer `bits` wide, sign-extended when the type is signed.
fn sign_extend(v: u64, bits: u64, signed: bool) -> i64 {
    if signed && bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | !((1u64 << bits) - 1)) as i64
    } else {
        v as i64
    }
}

/// A C string in `bytes`: up to its NUL, invalid UTF-8 replaced.
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A member path of a struct resolved once (offset, width, signedness) and
/// read from many objects of that struct without type lookups: for walks
/// over thousands of tasks. Only paths without pointers along the way.
#[derive(Debug, Clone, Copy)]
pub struct FieldReader {
    offset: u64,
    size: u8,
    signed: bool,
    bits: Option<(u64, u64)>,
}

impl FieldReader {
    /// `path` inside objects shaped like `sample`.
    pub fn new(sample: &Object<'_>, path: &str) -> Result<FieldReader> {
        // member_path refuses pointers along the way: the offset is fixed.
        let info = sample.k.debug.member_path(sample.ty, path)?;
        let m = Object::new(sample.k, sample.addr.wrapping_add(info.offset), info.ty);
        Ok(FieldReader {
            offset: info.offset,
            size: m.scalar_size()? as u8,
            signed: m.is_signed(),
            bits: info.bit_offset.zip(info.bit_size),
        })
    }

    /// The raw unsigned value in the object at `base`.
    pub fn read_u64(&self, k: &Kernel, base: u64) -> Result<u64> {
        read_scalar(
            k,
            base.wrapping_add(self.offset),
            self.size.into(),
            self.bits,
        )
    }

    /// The value sign-extended by the C type's width.
    pub fn read_i64(&self, k: &Kernel, base: u64) -> Result<i64> {
        let bits = self.bits.map(|(_, w)| w).unwrap_or(self.size as u64 * 8);
        Ok(sign_extend(self.read_u64(k, base)?, bits, self.signed))
    }
}

impl Kernel {
    /// The entries of a `list_head` list (`head` is the address of the head),
    /// as objects of `type_name` linked through `member`. Bounded: a cycle
    /// that does not return to the head, or a garbage pointer, is an error.
    pub fn list_entries(
        &self,
        head: u64,
        type_name: &str,
        member: &str,
    ) -> Result<Vec<Object<'_>>> {
        let ty = self.find_type(type_name)?;
        let off = self.debug.member_path(ty, member)?.offset;
        Ok(self
            .list_nodes(head)?
            .into_iter()
            .map(|n| Object::new(self, n.wrapping_sub(off), ty))
            .collect())
    }

    /// The node addresses of a `list_head` list, excluding the head.
    pub fn list_nodes(&self, head: u64) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = self.read_u64(head)?;
        while cur != head {
            if cur == 0 {
                return Err(Error::BadList {
                    head,
                    reason: "NULL next pointer".into(),
                });
            }
            if !seen.insert(cur) || out.len() >= MAX_LIST {
                return Err(Error::BadList {
                    head,
                    reason: format!("node {cur:#x} revisited after {} entries", out.len()),
                });
            }
            out.push(cur);
            cur = self.read_u64(cur).map_err(|e| Error::BadList {
                head,
                reason: format!("node {cur:#x} unreadable: {e}"),
            })?;
        }
        Ok(out)
    }
}

/// A `list_head` list walked as far as memory allows.
#[derive(Debug, Default)]
pub struct ListWalk {
    /// The readable nodes, in list order (those after a break were found
    /// walking backwards from the head).
    pub nodes: Vec<u64>,
    /// Nodes that could not be read (or pointers that lead nowhere), with
    /// the error: each is one lost entry.
    pub breaks: Vec<(u64, Error)>,
}

impl Kernel {
    /// Walks a `list_head` list forwards and, if that breaks, backwards from
    /// the head through `prev`, so one unreadable node costs one entry, not
    /// the rest of the list. Bounded like [`Kernel::list_nodes`]. Fails only
    /// when the head itself cannot be read.
    pub fn list_walk(&self, head: u64) -> Result<ListWalk> {
        let mut w = ListWalk::default();
        let mut seen = HashSet::new();
        let forward = self.half_walk(head, 0, &mut seen, &mut w)?;
        if forward {
            return Ok(w);
        }
        let mut back = ListWalk::default();
        self.half_walk(head, 8, &mut seen, &mut back)?;
        back.nodes.reverse();
        w.nodes.extend(back.nodes);
        for (node, e) in back.breaks {
            if !w.breaks.iter().any(|(n, _)| *n == node) {
                w.breaks.push((node, e));
            }
        }
        Ok(w)
    }

    /// One direction of [`Kernel::list_walk`] through the pointer at
    /// `link_off` (0: next, 8: prev); whether it came back to the head.
    /// Stops at a node already seen (the other direction's).
    fn half_walk(
        &self,
        head: u64,
        link_off: u64,
        seen: &mut HashSet<u64>,
        w: &mut ListWalk,
    ) -> Result<bool> {
        let mut cur = self.read_u64(head + link_off)?;
        let mut steps = 0usize;
        while cur != head {
            if seen.contains(&cur) {
                if link_off == 0 {
                    w.breaks.push((
                        cur,
                        Error::BadList {
                            head,
                            reason: format!("node {cur:#x} revisited after {} entries", steps),
                        },
                    ));
                }
                return Ok(false);
            }
            if cur == 0 || cur % 8 != 0 || steps >= MAX_LIST {
                w.breaks.push((
                    cur,
                    Error::BadList {
                        head,
                        reason: format!("bad pointer {cur:#x} after {steps} entries"),
                    },
                ));
                return Ok(false);
            }
            let next = match self.read_u64(cur + link_off) {
                Ok(n) => n,
                Err(e) => {
                    w.breaks.push((cur, e));
                    return Ok(false);
                }
            };
            seen.insert(cur);
            w.nodes.push(cur);
            steps += 1;
            cur = next;
        }
        Ok(true)
    }
}
