//! A small reader for the kernel's BTF (`.BTF` section): used to measure BTF
//! as a fast type source and to cross-check the DWARF layouts.
//!
//! BTF in vmlinux covers every struct/union/enum/typedef/function prototype
//! (with member bit offsets and bitfield sizes), but only per-CPU variables
//! (`BTF_KIND_VAR`), so global variable types still need DWARF.

use std::collections::HashMap;

use crate::hash::FxBuildHasher;

/// BTF kinds (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BtfKind {
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
    Unknown(u8),
}

impl BtfKind {
    fn from_u8(k: u8) -> BtfKind {
        use BtfKind::*;
        match k {
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            k => Unknown(k),
        }
    }
}

/// One BTF member of a struct/union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfMember {
    pub name: String,
    pub type_id: u32,
    /// Offset in bits from the start of the struct.
    pub bit_offset: u64,
    /// Bitfield size, when the struct uses the kind_flag encoding and it is nonzero.
    pub bitfield_size: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Byte offset of the `btf_type` in the type section.
    pos: u32,
    kind: BtfKind,
    vlen: u16,
    kind_flag: bool,
    name_off: u32,
    size_or_type: u32,
}

/// A parsed `.BTF` section.
pub struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    le: bool,
    entries: Vec<Entry>,
    /// The first type of each (kind, name), and how many types share it.
    by_name: HashMap<(u8, &'a [u8]), (u32, u32), FxBuildHasher>,
}

/// What BTF says of a struct, union or enum name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BtfDefinitions {
    /// No definition and no forward declaration.
    None,
    /// Only forward-declared (`struct foo;`).
    DeclarationOnly,
    /// Exactly one definition, of this byte size.
    One { size: u64 },
    /// Several distinct definitions (file-local structs reusing a name).
    Several,
}

fn kind_key(k: BtfKind) -> u8 {
    match k {
        BtfKind::Struct => 4,
        BtfKind::Union => 5,
        BtfKind::Enum | BtfKind::Enum64 => 6,
        BtfKind::Typedef => 8,
        BtfKind::Int | BtfKind::Float => 1,
        // Functions and variables are not looked up by name (the symbol
        // table and DWARF serve those): not indexed.
        BtfKind::Fwd => 7,
        // Variables: the per-CPU ones, looked up by name without DWARF.
        BtfKind::Var => 14,
        _ => 0,
    }
}

impl<'a> Btf<'a> {
    /// Parse the section. Returns None for a malformed or unknown-format section.
    pub fn parse(data: &'a [u8]) -> Option<Btf<'a>> {
        let magic = data.get(0..2)?;
        let le = match magic {
            [0x9f, 0xeb] => true,
            [0xeb, 0x9f] => false,
            _ => return None,
        };
        let rd = |off: usize| -> Option<u32> {
            let b: [u8; 4] = data.get(off..off + 4)?.try_into().ok()?;
            Some(if le {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            })
        };
        let hdr_len = rd(4)? as usize;
        let type_off = rd(8)? as usize;
        let type_len = rd(12)? as usize;
        let str_off = rd(16)? as usize;
        let str_len = rd(20)? as usize;
        let tstart = hdr_len.checked_add(type_off)?;
        let types = data.get(tstart..tstart.checked_add(type_len)?)?;
        let sstart = hdr_len.checked_add(str_off)?;
        let strings = data.get(sstart..sstart.checked_add(str_len)?)?;
        let mut btf = Btf {
            types,
            strings,
            le,
            entries: Vec::new(),
            by_name: HashMap::default(),
        };
        // Type id 0 is void.
        btf.entries.push(Entry {
            pos: 0,
            kind: BtfKind::Unknown(0),
            vlen: 0,
            kind_flag: false,
            name_off: 0,
            size_or_type: 0,
        });
        let mut pos = 0usize;
        while pos + 12 <= types.len() {
            let name_off = btf.u32_at(pos)?;
            let info = btf.u32_at(pos + 4)?;
            let size_or_type = btf.u32_at(pos + 8)?;
            let kind = BtfKind::from_u8(((info >> 24) & 0x1f) as u8);
            let vlen = (info & 0xffff) as u16;
            let extra = match kind {
                BtfKind::Int | BtfKind::Var | BtfKind::DeclTag => 4,
                BtfKind::Array => 12,
                BtfKind::Struct | BtfKind::Union | BtfKind::Datasec | BtfKind::Enum64 => {
                    12 * vlen as usize
                }
                BtfKind::Enum | BtfKind::FuncProto => 8 * vlen as usize,
                BtfKind::Unknown(_) => return None,
                _ => 0,
            };
            let id = btf.entries.len() as u32;
            btf.entries.push(Entry {
                pos: pos as u32,
                kind,
                vlen,
                kind_flag: info >> 31 != 0,
                name_off,
                size_or_type,
            });
            let key = kind_key(kind);
            if key != 0 && name_off != 0 {
                if let Some(name) = btf.str_at(name_off) {
                    // A forward declaration of a union is told apart by kind_flag.
                    let key = if kind == BtfKind::Fwd && info >> 31 != 0 {
                        kind_key(BtfKind::Union) | 0x80
                    } else {
                        key
                    };
                    btf.by_name
                        .entry((key, name))
                        .and_modify(|(_, n)| *n += 1)
                        .or_insert((id, 1));
                }
            }
            pos += 12 + extra;
        }
        Some(btf)
    }

    fn u32_at(&self, off: usize) -> Option<u32> {
        let b: [u8; 4] = self.types.get(off..off + 4)?.try_into().ok()?;
        Some(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn str_at(&self, off: u32) -> Option<&'a [u8]> {
        crate::elf::cstr_at(self.strings, off as usize)
    }

    /// Number of types (including void at id 0).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no types besides void.
    pub fn is_empty(&self) -> bool {
        self.entries.len() <= 1
    }

    /// Find a named type: `struct task_struct`, `union x`, `enum y`, or a
    /// typedef / base type name.
    pub fn find(&self, name: &str) -> Option<u32> {
        let (key, n) = if let Some(r) = name.strip_prefix("struct ") {
            (4, r)
        } else if let Some(r) = name.strip_prefix("union ") {
            (5, r)
        } else if let Some(r) = name.strip_prefix("enum ") {
            (6, r)
        } else {
            return self
                .by_name
                .get(&(8, name.as_bytes()))
                .or_else(|| self.by_name.get(&(1, name.as_bytes())))
                .map(|&(id, _)| id);
        };
        self.by_name
            .get(&(key, n.trim().as_bytes()))
            .map(|&(id, _)| id)
    }

    /// Whether a typedef (`kind` Typedef) or base type (Int, Float) of this
    /// name exists.
    pub fn has_named(&self, kind: BtfKind, name: &str) -> bool {
        self.by_name
            .contains_key(&(kind_key(kind), name.as_bytes()))
    }

    /// The definitions of a struct, union or enum (`kind`) of this name.
    pub fn definitions(&self, kind: BtfKind, name: &str) -> BtfDefinitions {
        let key = kind_key(kind);
        match self.by_name.get(&(key, name.as_bytes())) {
            Some(&(id, 1)) => BtfDefinitions::One {
                size: self.size(id).unwrap_or(0) as u64,
            },
            Some(_) => BtfDefinitions::Several,
            None => {
                // An enum's forward declaration is an enum without values.
                let fwd = match kind {
                    BtfKind::Union => kind_key(BtfKind::Union) | 0x80,
                    BtfKind::Struct => kind_key(BtfKind::Fwd),
                    _ => return BtfDefinitions::None,
                };
                if self.by_name.contains_key(&(fwd, name.as_bytes())) {
                    BtfDefinitions::DeclarationOnly
                } else {
                    BtfDefinitions::None
                }
            }
        }
    }

    /// All type ids (1..len), for iteration.
    pub fn ids(&self) -> std::ops::Range<u32> {
        1..self.entries.len() as u32
    }

    /// A type's kind.
    pub fn kind(&self, id: u32) -> Option<BtfKind> {
        self.entries.get(id as usize).map(|e| e.kind)
    }

    /// A type's name (empty when anonymous).
    pub fn name(&self, id: u32) -> Option<String> {
        let e = self.entries.get(id as usize)?;
        Some(String::from_utf8_lossy(self.str_at(e.name_off)?).into_owned())
    }

    /// Size in bytes of a struct/union/enum/int (the `size` field).
    pub fn size(&self, id: u32) -> Option<u32> {
        let e = self.entries.get(id as usize)?;
        match e.kind {
            BtfKind::Int
            | BtfKind::Struct
            | BtfKind::Union
            | BtfKind::Enum
            | BtfKind::Enum64
            | BtfKind::Float
            | BtfKind::Datasec => Some(e.size_or_type),
            _ => None,
        }
    }

    /// The referenced type of a pointer/typedef/qualifier/var/func.
    pub fn target(&self, id: u32) -> Option<u32> {
        let e = self.entries.get(id as usize)?;
        match e.kind {
            BtfKind::Ptr
            | BtfKind::Typedef
            | BtfKind::Volatile
            | BtfKind::Const
            | BtfKind::Restrict
            | BtfKind::Func
            | BtfKind::Var
            | BtfKind::TypeTag
            | BtfKind::FuncProto => Some(e.size_or_type),
            _ => None,
        }
    }

    /// Whether the type's `kind_flag` is set (bitfield encoding of a
    /// struct, signedness of an enum, a union's forward declaration).
    pub fn kind_flag(&self, id: u32) -> bool {
        self.entries.get(id as usize).is_some_and(|e| e.kind_flag)
    }

    /// The `n`th u32 after a type's 12-byte header.
    fn extra(&self, id: u32, n: usize) -> Option<u32> {
        let e = self.entries.get(id as usize)?;
        self.u32_at(e.pos as usize + 12 + 4 * n)
    }

    /// An INT's (encoding, bit offset, bits): encoding bit 0 signed, bit 1
    /// char, bit 2 bool.
    pub fn int_info(&self, id: u32) -> Option<(u8, u32, u32)> {
        if self.kind(id)? != BtfKind::Int {
            return None;
        }
        let v = self.extra(id, 0)?;
        Some((((v >> 24) & 0xf) as u8, (v >> 16) & 0xff, v & 0xff))
    }

    /// An ARRAY's element type and element count.
    pub fn array_info(&self, id: u32) -> Option<(u32, u32)> {
        if self.kind(id)? != BtfKind::Array {
            return None;
        }
        Some((self.extra(id, 0)?, self.extra(id, 2)?))
    }

    /// The named values of an ENUM or ENUM64 (an unsigned 64-bit value above
    /// `i64::MAX` wraps to negative).
    pub fn enumerators(&self, id: u32) -> Vec<(String, i64)> {
        let Some(e) = self.entries.get(id as usize) else {
            return Vec::new();
        };
        let signed = e.kind_flag;
        let name = |off: u32| {
            self.str_at(off)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        (0..e.vlen as usize)
            .map_while(|i| match e.kind {
                BtfKind::Enum => {
                    let (n, v) = (self.extra(id, 2 * i)?, self.extra(id, 2 * i + 1)?);
                    let v = if signed {
                        i64::from(v as i32)
                    } else {
                        i64::from(v)
                    };
                    Some((name(n), v))
                }
                BtfKind::Enum64 => {
                    let n = self.extra(id, 3 * i)?;
                    let lo = u64::from(self.extra(id, 3 * i + 1)?);
                    let hi = u64::from(self.extra(id, 3 * i + 2)?);
                    Some((name(n), ((hi << 32) | lo) as i64))
                }
                _ => None,
            })
            .collect()
    }

    /// A FUNC_PROTO's parameter types and whether it is variadic (a last
    /// parameter of type 0).
    pub fn params(&self, id: u32) -> (Vec<u32>, bool) {
        let Some(e) = self.entries.get(id as usize) else {
            return (Vec::new(), false);
        };
        if e.kind != BtfKind::FuncProto {
            return (Vec::new(), false);
        }
        let mut ps: Vec<u32> = (0..e.vlen as usize)
            .map_while(|i| self.extra(id, 2 * i + 1))
            .collect();
        let variadic = ps.last() == Some(&0);
        if variadic {
            ps.pop();
        }
        (ps, variadic)
    }

    /// The first type of a kind (by [`BtfKind`]) and name: a struct, union,
    /// enum, typedef, int or variable.
    pub fn named(&self, kind: BtfKind, name: &str) -> Option<u32> {
        self.by_name
            .get(&(kind_key(kind), name.as_bytes()))
            .map(|&(id, _)| id)
    }

    /// Members of a struct or union.
    pub fn members(&self, id: u32) -> Vec<BtfMember> {
        let Some(e) = self.entries.get(id as usize) else {
            return Vec::new();
        };
        if !matches!(e.kind, BtfKind::Struct | BtfKind::Union) {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(e.vlen as usize);
        for i in 0..e.vlen as usize {
            let p = e.pos as usize + 12 + 12 * i;
            let (Some(n), Some(t), Some(o)) =
                (self.u32_at(p), self.u32_at(p + 4), self.u32_at(p + 8))
            else {
                break;
            };
            let (bit_offset, bitfield_size) = if e.kind_flag {
                (u64::from(o & 0xff_ffff), Some(o >> 24).filter(|&s| s != 0))
            } else {
                (u64::from(o), None)
            };
            out.push(BtfMember {
                name: self
                    .str_at(n)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
                type_id: t,
                bit_offset,
                bitfield_size,
            });
        }
        out
    }

    /// Resolve a dotted member path (through anonymous members and
    /// typedefs/qualifiers) to a bit offset from the start of `id`.
    pub fn member_bit_offset(&self, id: u32, path: &str) -> Option<u64> {
        let mut cur = id;
        let mut total = 0u64;
        for comp in path.split('.') {
            let mut seen = std::collections::HashSet::new();
            let (off, ty) = self.find_member(self.strip(cur)?, comp, 0, &mut seen)?;
            total += off;
            cur = ty;
        }
        Some(total)
    }

    fn strip(&self, mut id: u32) -> Option<u32> {
        for _ in 0..64 {
            match self.kind(id)? {
                BtfKind::Typedef
                | BtfKind::Const
                | BtfKind::Volatile
                | BtfKind::Restrict
                | BtfKind::TypeTag => id = self.target(id)?,
                _ => return Some(id),
            }
        }
        None
    }

    /// The member `name` of `id`, or of its anonymous members, depth first.
    /// `seen`: the types already searched for it (each is searched once:
    /// anonymous members naming the same type, or their own struct, would
    /// otherwise make the search exponential).
    fn find_member(
        &self,
        id: u32,
        name: &str,
        depth: u32,
        seen: &mut std::collections::HashSet<u32>,
    ) -> Option<(u64, u32)> {
        if depth > 32 || !seen.insert(id) {
            return None;
        }
        let ms = self.members(id);
        if let Some(m) = ms.iter().find(|m| m.name == name) {
            return Some((m.bit_offset, m.type_id));
        }
        for m in ms.iter().filter(|m| m.name.is_empty()) {
            if let Some((o, t)) = self.find_member(self.strip(m.type_id)?, name, depth + 1, seen) {
                return Some((m.bit_offset + o, t));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `btf` fuzz target: a struct whose anonymous members are
    /// the struct itself made a member lookup exponential (vlen^32).
    #[test]
    fn self_referencing_anonymous_members() {
        let mut types = Vec::new();
        let vlen = 40u32;
        types.extend_from_slice(&1u32.to_le_bytes()); // name "s"
        types.extend_from_slice(&((4u32 << 24) | vlen).to_le_bytes()); // STRUCT
        types.extend_from_slice(&8u32.to_le_bytes());
        for _ in 0..vlen {
            types.extend_from_slice(&0u32.to_le_bytes()); // anonymous
            types.extend_from_slice(&1u32.to_le_bytes()); // of type 1: itself
            types.extend_from_slice(&0u32.to_le_bytes());
        }
        let strings = b"\0s\0";
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for w in [24, 0, types.len() as u32, types.len() as u32, 3] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&types);
        b.extend_from_slice(strings);
        let btf = Btf::parse(&b).unwrap();
        assert_eq!(btf.find("struct s"), Some(1));
        let start = std::time::Instant::now();
        assert_eq!(btf.member_bit_offset(1, "x"), None);
        assert!(start.elapsed().as_secs() < 1);
    }
}
