//! Types from BTF when there is no DWARF (an image made from the dump's
//! memory, or a plain vmlinux): the same [`Type`] model, with BTF type ids
//! as [`TypeId`]s.
//!
//! What BTF cannot say: the type of a global variable other than a per-CPU
//! one (BTF's VAR and DATASEC kinds list only those). The caller declares
//! the globals it reads by the C type the kernel declares them with
//! ([`GlobalDecl`], handed down at construction), resolved through BTF by
//! name; any other global is a `needs debuginfo` error. drgn's proposed BTF support has
//! the same gap and fills it the same way (the helpers name the types).

use std::sync::Arc;

use crate::btf::{Btf, BtfKind};
use crate::error::{Error, Result};
use crate::types::{Encoding, Member, Type, TypeId, TypeKind, Variable, MAX_DEPTH};
use crate::KernelDebugInfo;

/// A global the layers above read without DWARF, with the C type the
/// kernel declares it with (alternatives in order, for types that changed
/// between releases). This crate knows no kernel names: the kernel model
/// declares its globals (`kmodel::GLOBALS`) and hands them down through
/// [`crate::DumpKernel::globals`]; any other global is a `needs
/// debuginfo` error.
///
/// Spellings: `T[N]` takes `N` from an enumerator (`NR_VM_ZONE_STAT_ITEMS`)
/// or a number; `T[]` takes its length from the symbol's extent (up to the
/// next kallsyms symbol); `T[~]` is a table the kernel sizes at build time
/// (`ARRAY_SIZE`) and ends without a terminator: its elements up to the
/// first all-zero one within the extent, counted in the dump's memory when
/// the image is made (the padding after such a table is zeros). `struct
/// {a,b}` is the anonymous struct with exactly those members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalDecl {
    pub name: &'static str,
    pub types: &'static [&'static str],
}

impl GlobalDecl {
    pub const fn new(name: &'static str, types: &'static [&'static str]) -> GlobalDecl {
        GlobalDecl { name, types }
    }
}

fn id_of(btf_id: u32) -> TypeId {
    if btf_id == 0 {
        TypeId::VOID
    } else {
        TypeId::from_die(u64::from(btf_id))
    }
}

fn btf_id(id: TypeId) -> u32 {
    id.die_offset().unwrap_or(0) as u32
}

impl KernelDebugInfo {
    /// BTF as the type source: only when the file has no DWARF.
    pub(crate) fn btf_only(&self) -> Option<&Btf<'_>> {
        if self.has_dwarf() {
            None
        } else {
            self.btf()
        }
    }

    /// The error for a fact only DWARF has.
    pub(crate) fn needs_debuginfo(&self, what: impl Into<String>) -> Error {
        Error::NeedsDebuginfo(what.into())
    }

    /// `find_type` over BTF: the same names (`struct x`, typedefs, base types).
    pub(crate) fn btf_find_type(&self, btf: &Btf<'_>, name: &str) -> Option<TypeId> {
        let n = name.trim();
        let (kinds, bare): (&[BtfKind], &str) = if let Some(r) = n.strip_prefix("struct ") {
            (&[BtfKind::Struct, BtfKind::Fwd], r.trim())
        } else if let Some(r) = n.strip_prefix("union ") {
            (&[BtfKind::Union], r.trim())
        } else if let Some(r) = n.strip_prefix("enum ") {
            (&[BtfKind::Enum], r.trim())
        } else {
            (
                &[
                    BtfKind::Typedef,
                    BtfKind::Int,
                    BtfKind::Struct,
                    BtfKind::Union,
                    BtfKind::Enum,
                ],
                n,
            )
        };
        let canon = crate::canonical_base_name(bare);
        kinds.iter().find_map(|&k| {
            let name = if k == BtfKind::Int { canon } else { bare };
            btf.named(k, name).map(id_of)
        })
    }

    /// A BTF type as a [`Type`].
    pub(crate) fn btf_parse_type(&self, btf: &Btf<'_>, id: TypeId, depth: u32) -> Result<Type> {
        let ok = |kind| {
            Ok(Type {
                id,
                kind,
                incomplete: false,
            })
        };
        if id.is_void() {
            return ok(TypeKind::Void);
        }
        if depth > MAX_DEPTH {
            return Err(Error::TypeCycle {
                offset: u64::from(btf_id(id)),
            });
        }
        if id.ptr_depth() > 0 {
            return ok(TypeKind::Pointer {
                target: id.sub_ptr(),
            });
        }
        let b = btf_id(id);
        let bad = |reason: &str| Error::BadType {
            offset: u64::from(b),
            reason: format!("BTF type {b}: {reason}"),
        };
        let kind = btf.kind(b).ok_or_else(|| bad("no such type"))?;
        let name = btf.name(b).filter(|n| !n.is_empty());
        let target = || id_of(btf.target(b).unwrap_or(0));
        Ok(Type {
            id,
            incomplete: false,
            kind: match kind {
                BtfKind::Int => {
                    let (enc, _, _) = btf.int_info(b).ok_or_else(|| bad("cut short"))?;
                    let n = name.clone().unwrap_or_default();
                    let encoding = if enc & 4 != 0 {
                        Encoding::Bool
                    } else if enc & 2 != 0 || n.contains("char") {
                        Encoding::Char {
                            signed: enc & 1 != 0,
                        }
                    } else if enc & 1 != 0 {
                        Encoding::Signed
                    } else {
                        Encoding::Unsigned
                    };
                    TypeKind::Base {
                        name: n,
                        size: u64::from(btf.size(b).unwrap_or(0)),
                        encoding,
                    }
                }
                BtfKind::Float => TypeKind::Base {
                    name: name.unwrap_or_default(),
                    size: u64::from(btf.size(b).unwrap_or(0)),
                    encoding: Encoding::Float,
                },
                BtfKind::Ptr => TypeKind::Pointer { target: target() },
                BtfKind::Const => TypeKind::Const(target()),
                BtfKind::Volatile => TypeKind::Volatile(target()),
                BtfKind::Restrict | BtfKind::TypeTag => {
                    let mut t = self.btf_parse_type(btf, target(), depth + 1)?;
                    t.id = id;
                    return Ok(t);
                }
                BtfKind::Typedef => TypeKind::Typedef {
                    name: name.unwrap_or_default(),
                    target: target(),
                },
                BtfKind::Array => {
                    let (elem, n) = btf.array_info(b).ok_or_else(|| bad("cut short"))?;
                    // BTF writes a flexible array (`x[]`) with no elements,
                    // as DWARF writes it with no bound.
                    TypeKind::Array {
                        elem: id_of(elem),
                        count: (n > 0).then_some(u64::from(n)),
                    }
                }
                BtfKind::Struct | BtfKind::Union => {
                    let members = self.btf_members(btf, b);
                    let size = u64::from(btf.size(b).unwrap_or(0));
                    if kind == BtfKind::Struct {
                        TypeKind::Struct {
                            name,
                            size,
                            members,
                        }
                    } else {
                        TypeKind::Union {
                            name,
                            size,
                            members,
                        }
                    }
                }
                BtfKind::Enum | BtfKind::Enum64 => TypeKind::Enum {
                    name,
                    size: u64::from(btf.size(b).unwrap_or(4)),
                    signed: btf.kind_flag(b),
                    enumerators: btf.enumerators(b),
                },
                BtfKind::Fwd => {
                    let union = btf.kind_flag(b);
                    let n = name.clone().unwrap_or_default();
                    let def = btf.named(
                        if union {
                            BtfKind::Union
                        } else {
                            BtfKind::Struct
                        },
                        &n,
                    );
                    if let Some(d) = def.filter(|&d| d != b) {
                        return self.btf_parse_type(btf, id_of(d), depth + 1);
                    }
                    let kind = if union {
                        TypeKind::Union {
                            name,
                            size: 0,
                            members: Vec::new(),
                        }
                    } else {
                        TypeKind::Struct {
                            name,
                            size: 0,
                            members: Vec::new(),
                        }
                    };
                    return Ok(Type {
                        id,
                        kind,
                        incomplete: true,
                    });
                }
                BtfKind::FuncProto | BtfKind::Func => {
                    let proto = if kind == BtfKind::Func {
                        btf.target(b).unwrap_or(0)
                    } else {
                        b
                    };
                    let (params, variadic) = btf.params(proto);
                    TypeKind::Function {
                        ret: id_of(btf.target(proto).unwrap_or(0)),
                        params: params.into_iter().map(id_of).collect(),
                        variadic,
                    }
                }
                other => return Err(bad(&format!("a {other:?} is not a type"))),
            },
        })
    }

    fn btf_members(&self, btf: &Btf<'_>, b: u32) -> Vec<Member> {
        btf.members(b)
            .into_iter()
            .map(|m| {
                let mut bitpos = m.bit_offset;
                let mut bits = m.bitfield_size.map(u64::from);
                // Without kind_flag a bitfield is an INT of fewer bits.
                if bits.is_none() {
                    if let Some((_, off, n)) = btf.int_info(m.type_id) {
                        let full = btf.size(m.type_id).unwrap_or(0).saturating_mul(8);
                        if n != full || off != 0 {
                            bitpos += u64::from(off);
                            bits = Some(u64::from(n));
                        }
                    }
                }
                Member {
                    name: Some(m.name).filter(|n| !n.is_empty()),
                    ty: id_of(m.type_id),
                    offset: bitpos / 8,
                    bit_offset: bits.map(|_| bitpos % 8),
                    bit_size: bits,
                }
            })
            .collect()
    }

    /// A global's type without DWARF: a per-CPU variable's from BTF, else
    /// the declared one ([`GlobalDecl`]).
    pub(crate) fn btf_variable(&self, btf: &Btf<'_>, name: &str) -> Result<Variable> {
        let sym = self.symbol(name).map(|s| (s.addr, s.size));
        let Some((addr, size)) = sym else {
            return Err(Error::VariableNotFound(name.to_string()));
        };
        let var = |ty| Variable {
            name: name.to_string(),
            ty,
            address: Some(addr),
            declaration: false,
        };
        if let Some(v) = btf.named(BtfKind::Var, name) {
            return Ok(var(id_of(btf.target(v).unwrap_or(0))));
        }
        let Some(spellings) = self
            .declared_globals()
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.types)
        else {
            return Err(self.needs_debuginfo(format!(
                "the type of the global `{name}` (without DWARF only per-CPU variables and the \
                 globals vmtriage declares have a type; pass the debug vmlinux)"
            )));
        };
        for s in spellings.iter() {
            if let Some(ty) = self.declared_type(btf, name, s, size) {
                return Ok(var(ty));
            }
        }
        Err(self.needs_debuginfo(format!(
            "the type of the global `{name}`: none of {spellings:?} is in this kernel's BTF"
        )))
    }

    /// Resolves a declared spelling (see [`GlobalDecl`]); `size` is the
    /// symbol's extent, for `T[]`.
    fn declared_type(
        &self,
        btf: &Btf<'_>,
        name: &str,
        spelling: &str,
        size: u64,
    ) -> Option<TypeId> {
        if let Some(members) = spelling
            .strip_prefix("struct {")
            .and_then(|r| r.strip_suffix('}'))
        {
            let want: Vec<&str> = members.split(',').map(str::trim).collect();
            return btf.ids().find_map(|i| {
                (btf.kind(i) == Some(BtfKind::Struct)
                    && btf.name(i).is_some_and(|n| n.is_empty())
                    && btf
                        .members(i)
                        .iter()
                        .map(|m| m.name.as_str())
                        .eq(want.iter().copied()))
                .then(|| id_of(i))
            });
        }
        let (base, dim) = match spelling.strip_suffix(']').and_then(|s| s.rsplit_once('[')) {
            Some((b, d)) => (b.trim(), Some(d.trim())),
            None => (spelling, None),
        };
        let mut ptrs = 0;
        let mut n = base;
        while let Some(r) = n.strip_suffix('*') {
            ptrs += 1;
            n = r.trim_end();
        }
        let mut id = self.btf_find_type(btf, n)?;
        for _ in 0..ptrs {
            id = id.add_ptr()?;
        }
        let Some(dim) = dim else {
            return Some(id);
        };
        let counted = (dim == "~").then(|| self.memory_count(name)).flatten();
        let count = if let Some(n) = counted {
            n
        } else if dim.is_empty() || dim == "~" {
            let elem = self.sizeof(id).ok().filter(|&s| s > 0)?;
            size / elem
        } else if let Ok(n) = dim.parse::<u64>() {
            n
        } else {
            btf.ids()
                .filter(|&i| matches!(btf.kind(i), Some(BtfKind::Enum | BtfKind::Enum64)))
                .find_map(|i| btf.enumerators(i).into_iter().find(|(n, _)| n == dim))
                .and_then(|(_, v)| u64::try_from(v).ok())?
        };
        Some(self.synthetic_array(id, count))
    }

    /// An array type made for a declared global (BTF may have no array of
    /// that element and length): kept in the type cache under an id above
    /// BTF's own.
    fn synthetic_array(&self, elem: TypeId, count: u64) -> TypeId {
        let mut m = self.synthetic.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&(_, _, id)) = m.iter().find(|(e, c, _)| *e == elem && *c == count) {
            return id;
        }
        let id = TypeId::from_die(SYNTHETIC_BASE + m.len() as u64);
        m.push((elem, count, id));
        let t = Arc::new(Type {
            id,
            kind: TypeKind::Array {
                elem,
                count: Some(count),
            },
            incomplete: false,
        });
        if let Ok(mut types) = self.types.write() {
            types.insert(id, t);
        }
        id
    }
}

impl KernelDebugInfo {
    /// The globals declared by the caller at construction (none for debug
    /// info with DWARF, which types every global).
    pub fn declared_globals(&self) -> &'static [GlobalDecl] {
        self.globals.get().copied().unwrap_or(&[])
    }

    /// Sets the declared globals of debug info made without DWARF (once;
    /// the constructors that take a [`crate::DumpKernel`] call it).
    pub(crate) fn declare_globals(&self, globals: &'static [GlobalDecl]) {
        let _ = self.globals.set(globals);
    }

    /// The length of a `T[~]` global counted in the dump's memory when the
    /// image was made (section `.vmtriage.counts`: `name=count` lines).
    fn memory_count(&self, name: &str) -> Option<u64> {
        let s = self.section(crate::memory::COUNTS_SECTION)?;
        std::str::from_utf8(s.data)
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    }
}

/// Ids of synthetic types start here (BTF ids are below 2^31).
pub(crate) const SYNTHETIC_BASE: u64 = 1 << 40;

#[cfg(test)]
mod tests {
    use crate::memory::{write_elf, SectionOut};
    use crate::{Error, GlobalDecl, KernelDebugInfo};

    const ADDR: u64 = 0xffff_ffff_8100_0000;

    /// An image with BTF (one type, `int`) and one global, `answer`, of
    /// that type: BTF types no such global.
    fn image() -> KernelDebugInfo {
        let mut btf = Vec::new();
        let strings = b"\0int\0";
        let mut types = Vec::new();
        // INT "int": name_off 1, kind 1, size 4; signed, 32 bits.
        for w in [1u32, 1 << 24, 4, (1 << 24) | 32] {
            types.extend_from_slice(&w.to_le_bytes());
        }
        btf.extend_from_slice(&0xeb9fu16.to_le_bytes());
        btf.extend_from_slice(&[1, 0]);
        for w in [24u32, 0, types.len() as u32, types.len() as u32, 5] {
            btf.extend_from_slice(&w.to_le_bytes());
        }
        btf.extend_from_slice(&types);
        btf.extend_from_slice(strings);
        let mut symtab = vec![0u8; 24];
        symtab.extend_from_slice(&1u32.to_le_bytes()); // "answer"
        symtab.extend_from_slice(&[(1 << 4) | 1, 0]); // GLOBAL OBJECT
        symtab.extend_from_slice(&0xfff1u16.to_le_bytes());
        symtab.extend_from_slice(&ADDR.to_le_bytes());
        symtab.extend_from_slice(&4u64.to_le_bytes());
        let section = |name, sh_type, data, link, entsize| SectionOut {
            name,
            sh_type,
            flags: 0,
            addr: 0,
            data,
            link,
            entsize,
        };
        let elf = write_elf(&[
            section(".symtab", 2, symtab, 2, 24),
            section(".strtab", 3, b"\0answer\0".to_vec(), 0, 0),
            section(".BTF", 1, btf, 0, 0),
        ]);
        KernelDebugInfo::from_bytes("btf-test", elf).unwrap()
    }

    /// The globals typed without DWARF are the caller's declarations: this
    /// crate names none of its own.
    #[test]
    fn globals_are_typed_as_the_caller_declares_them() {
        let d = image();
        assert!(d.declared_globals().is_empty());
        assert!(matches!(
            d.variable("answer"),
            Err(Error::NeedsDebuginfo(_))
        ));
        let d = image();
        const ANSWER: &[GlobalDecl] = &[GlobalDecl::new("answer", &["long", "int"])];
        d.declare_globals(ANSWER);
        let v = d.variable("answer").unwrap();
        assert_eq!((v.address, d.type_name(v.ty)), (Some(ADDR), "int".into()));
        // A declaration whose type BTF does not have is an error, not a guess.
        let d = image();
        const NOTHING: &[GlobalDecl] = &[GlobalDecl::new("answer", &["struct nothing"])];
        d.declare_globals(NOTHING);
        assert!(matches!(
            d.variable("answer"),
            Err(Error::NeedsDebuginfo(_))
        ));
    }
}
