//! The type model and its lazy resolution from DWARF DIEs.

use std::fmt;

use gimli::constants as dw;
use gimli::{AttributeValue, Reader};

use crate::dwarf::{DwarfData, Unit, R};
use crate::error::{Error, Result};

/// How deep chains of type references (typedef → const → typedef …) may go
/// before we call it a cycle.
pub(crate) const MAX_DEPTH: u32 = 64;

/// A stable handle to a type.
///
/// Internally: the global `.debug_info` offset of the DIE (bits 0..44), the
/// array dimension for multi-dimensional arrays (bits 44..52) and a count of
/// synthetic pointer levels added by [`crate::KernelDebugInfo::pointer_to`]
/// (bits 52..60). `TypeId::VOID` stands for `void`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(u64);

const OFF_BITS: u32 = 44;
const OFF_MASK: u64 = (1 << OFF_BITS) - 1;
const DIM_SHIFT: u32 = 44;
const PTR_SHIFT: u32 = 52;

impl TypeId {
    /// `void`.
    pub const VOID: TypeId = TypeId(u64::MAX);

    pub(crate) fn from_die(off: u64) -> TypeId {
        TypeId(off & OFF_MASK)
    }
    /// Whether this is `void`.
    pub fn is_void(self) -> bool {
        self == TypeId::VOID
    }
    /// The raw handle value (stable for one file).
    pub fn as_u64(self) -> u64 {
        self.0
    }
    /// The `.debug_info` offset of the DIE behind this type (None for void).
    pub fn die_offset(self) -> Option<u64> {
        (!self.is_void()).then_some(self.0 & OFF_MASK)
    }
    pub(crate) fn dim(self) -> u64 {
        (self.0 >> DIM_SHIFT) & 0xff
    }
    pub(crate) fn ptr_depth(self) -> u64 {
        (self.0 >> PTR_SHIFT) & 0xff
    }
    pub(crate) fn with_dim(self, d: u64) -> TypeId {
        TypeId((self.0 & !(0xff << DIM_SHIFT)) | ((d & 0xff) << DIM_SHIFT))
    }
    /// A pointer to this type, or None when too many synthetic levels.
    pub(crate) fn add_ptr(self) -> Option<TypeId> {
        if self.is_void() {
            return None;
        }
        let d = self.ptr_depth();
        (d < 0xff).then(|| TypeId((self.0 & !(0xff << PTR_SHIFT)) | ((d + 1) << PTR_SHIFT)))
    }
    pub(crate) fn sub_ptr(self) -> TypeId {
        let d = self.ptr_depth();
        TypeId((self.0 & !(0xff << PTR_SHIFT)) | ((d.saturating_sub(1)) << PTR_SHIFT))
    }
}

impl fmt::Debug for TypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_void() {
            return write!(f, "TypeId(void)");
        }
        write!(f, "TypeId({:#x}", self.0 & OFF_MASK)?;
        if self.dim() > 0 {
            write!(f, " dim {}", self.dim())?;
        }
        if self.ptr_depth() > 0 {
            write!(f, " ptr {}", self.ptr_depth())?;
        }
        write!(f, ")")
    }
}

/// Base type encodings (`DW_AT_encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Signed,
    Unsigned,
    Bool,
    Float,
    /// `char`, `signed char`, `unsigned char`.
    Char {
        signed: bool,
    },
    /// Anything else (complex, decimal float, UTF …), with the DWARF value.
    Other(u8),
}

/// A struct or union member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// None for an anonymous struct/union member.
    pub name: Option<String>,
    pub ty: TypeId,
    /// Byte offset from the start of the containing struct/union. For a
    /// bitfield, the byte holding its lowest bit.
    pub offset: u64,
    /// For a bitfield: the bit position of its lowest bit within the byte at
    /// `offset`, counted from the least significant bit (little-endian
    /// numbering): the value is `(load_le(offset..) >> bit_offset) & mask(bit_size)`.
    pub bit_offset: Option<u64>,
    /// For a bitfield: its width in bits.
    pub bit_size: Option<u64>,
}

/// What a type is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeKind {
    Void,
    Base {
        name: String,
        size: u64,
        encoding: Encoding,
    },
    Pointer {
        target: TypeId,
    },
    Struct {
        name: Option<String>,
        size: u64,
        members: Vec<Member>,
    },
    Union {
        name: Option<String>,
        size: u64,
        members: Vec<Member>,
    },
    Enum {
        name: Option<String>,
        size: u64,
        signed: bool,
        /// Values of unsigned enums above `i64::MAX` wrap to negative.
        enumerators: Vec<(String, i64)>,
    },
    Typedef {
        name: String,
        target: TypeId,
    },
    Array {
        elem: TypeId,
        /// None for a flexible array member (`x[]`).
        count: Option<u64>,
    },
    Function {
        ret: TypeId,
        params: Vec<TypeId>,
        variadic: bool,
    },
    Const(TypeId),
    Volatile(TypeId),
}

/// A resolved type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type {
    /// The handle this type was resolved under. A struct declaration resolves
    /// to its definition, whose id this is.
    pub id: TypeId,
    pub kind: TypeKind,
    /// A struct/union/enum that is only declared (no definition anywhere in
    /// the debug info): its size is 0 and it has no members.
    pub incomplete: bool,
}

impl Type {
    /// The members of a struct or union (empty for other kinds).
    pub fn members(&self) -> &[Member] {
        match &self.kind {
            TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => members,
            _ => &[],
        }
    }

    /// The type's own name, if it has one (`task_struct`, `u32`, `int`).
    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            TypeKind::Base { name, .. } | TypeKind::Typedef { name, .. } => Some(name),
            TypeKind::Struct { name, .. }
            | TypeKind::Union { name, .. }
            | TypeKind::Enum { name, .. } => name.as_deref(),
            _ => None,
        }
    }
}

/// A global variable from the DWARF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub ty: TypeId,
    /// Link-time address from `DW_AT_location` (`DW_OP_addr`), if simple.
    /// Per-CPU variables have their offset in `.data..percpu` here.
    pub address: Option<u64>,
    /// Whether only a declaration was found (no definition in any unit).
    pub declaration: bool,
}

/// Where a (possibly nested) member lives, from [`crate::KernelDebugInfo::member_path`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// Byte offset from the start of the outer struct.
    pub offset: u64,
    /// Bit position within the byte at `offset`, for bitfields (see [`Member`]).
    pub bit_offset: Option<u64>,
    /// Width in bits, for bitfields.
    pub bit_size: Option<u64>,
    /// The member's type.
    pub ty: TypeId,
}

// ---------------------------------------------------------------------------
// Resolution from DWARF.

/// Callback for finding the definition of a declared struct/union/enum.
pub(crate) type DefLookup<'a> = &'a dyn Fn(u16, &str) -> Option<u64>;

impl DwarfData {
    /// Parse the DIE behind `id` into a [`Type`]. `find_def` maps a declared
    /// struct/union/enum (tag, name) to the DIE of a definition.
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per DWARF type tag over the DIE's attributes read once, sharing the unit, the offset and the error"
    )]
    pub(crate) fn parse_type(
        &self,
        id: TypeId,
        find_def: DefLookup<'_>,
        depth: u32,
    ) -> Result<Type> {
        if id.is_void() {
            return Ok(Type {
                id,
                kind: TypeKind::Void,
                incomplete: false,
            });
        }
        let off = id.die_offset().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(Error::TypeCycle { offset: off });
        }
        if id.ptr_depth() > 0 {
            return Ok(Type {
                id,
                kind: TypeKind::Pointer {
                    target: id.sub_ptr(),
                },
                incomplete: false,
            });
        }
        let (unit, uoff) = self.unit_for(off)?;
        let bad = |reason: String| Error::BadType {
            offset: off,
            reason,
        };
        let entry = unit.entry(uoff).map_err(|e| bad(e.to_string()))?;
        let unit_base = off - uoff.0 as u64;
        let type_attr = |e: &gimli::DebuggingInformationEntry<R>| -> TypeId {
            e.attr_value(dw::DW_AT_type)
                .and_then(|v| ref_offset(v, unit_base))
                .map(TypeId::from_die)
                .unwrap_or(TypeId::VOID)
        };
        let name = self.die_name(&unit, &entry);
        let size = entry
            .attr(dw::DW_AT_byte_size)
            .and_then(|a| a.udata_value());
        let declaration = matches!(
            entry.attr_value(dw::DW_AT_declaration),
            Some(AttributeValue::Flag(true))
        );
        let tag = entry.tag();
        let kind = match tag {
            dw::DW_TAG_base_type => {
                let enc = match entry.attr_value(dw::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(e)) => e,
                    _ => dw::DwAte(0),
                };
                let encoding = match enc {
                    dw::DW_ATE_signed => Encoding::Signed,
                    dw::DW_ATE_unsigned => Encoding::Unsigned,
                    dw::DW_ATE_boolean => Encoding::Bool,
                    dw::DW_ATE_float => Encoding::Float,
                    dw::DW_ATE_signed_char => Encoding::Char { signed: true },
                    dw::DW_ATE_unsigned_char => Encoding::Char { signed: false },
                    e => Encoding::Other(e.0),
                };
                TypeKind::Base {
                    name: name.unwrap_or_default(),
                    size: size.unwrap_or(0),
                    encoding,
                }
            }
            dw::DW_TAG_unspecified_type => TypeKind::Void,
            dw::DW_TAG_pointer_type
            | dw::DW_TAG_reference_type
            | dw::DW_TAG_rvalue_reference_type => TypeKind::Pointer {
                target: type_attr(&entry),
            },
            dw::DW_TAG_const_type => TypeKind::Const(type_attr(&entry)),
            dw::DW_TAG_volatile_type => TypeKind::Volatile(type_attr(&entry)),
            dw::DW_TAG_restrict_type | dw::DW_TAG_atomic_type | dw::DW_TAG_immutable_type => {
                // Transparent qualifiers: resolve to what they qualify.
                let t = type_attr(&entry);
                let mut ty = self.parse_type(t, find_def, depth + 1)?;
                ty.id = id;
                return Ok(ty);
            }
            dw::DW_TAG_typedef => TypeKind::Typedef {
                name: name.unwrap_or_default(),
                target: type_attr(&entry),
            },
            dw::DW_TAG_structure_type
            | dw::DW_TAG_class_type
            | dw::DW_TAG_union_type
            | dw::DW_TAG_enumeration_type => {
                if declaration {
                    if let Some(n) = &name {
                        if let Some(def) = find_def(tag.0, n) {
                            if def != off {
                                return self.parse_type(TypeId::from_die(def), find_def, depth + 1);
                            }
                        }
                    }
                }
                if tag == dw::DW_TAG_enumeration_type {
                    self.parse_enum(
                        &unit,
                        uoff,
                        &entry,
                        name,
                        size.unwrap_or(0),
                        unit_base,
                        depth,
                    )?
                } else {
                    let members = if declaration {
                        Vec::new()
                    } else {
                        self.parse_members(&unit, uoff, unit_base)?
                    };
                    let size = size.unwrap_or(0);
                    if tag == dw::DW_TAG_union_type {
                        TypeKind::Union {
                            name,
                            size,
                            members,
                        }
                    } else {
                        TypeKind::Struct {
                            name,
                            size,
                            members,
                        }
                    }
                }
            }
            dw::DW_TAG_array_type => {
                let dims = self.array_dims(&unit, uoff)?;
                let d = id.dim();
                let count = dims.get(d as usize).copied().unwrap_or(None);
                let elem = if (d as usize) + 1 < dims.len() {
                    id.with_dim(d + 1)
                } else {
                    type_attr(&entry)
                };
                TypeKind::Array { elem, count }
            }
            dw::DW_TAG_subroutine_type | dw::DW_TAG_subprogram => {
                let ret = type_attr(&entry);
                let (params, variadic) = self.parse_params(&unit, uoff, unit_base)?;
                TypeKind::Function {
                    ret,
                    params,
                    variadic,
                }
            }
            t => {
                return Err(bad(format!(
                    "{} is not a type",
                    t.static_string().unwrap_or("unknown tag")
                )));
            }
        };
        Ok(Type {
            id,
            kind,
            incomplete: declaration,
        })
    }

    pub(crate) fn die_name(
        &self,
        unit: &Unit,
        entry: &gimli::DebuggingInformationEntry<R>,
    ) -> Option<String> {
        let v = entry.attr_value(dw::DW_AT_name)?;
        let s = self.dwarf.attr_string(unit, v).ok()?;
        Some(String::from_utf8_lossy(s.slice()).into_owned())
    }

    fn children<F>(&self, unit: &Unit, uoff: gimli::UnitOffset<usize>, mut f: F) -> Result<()>
    where
        F: FnMut(&gimli::DebuggingInformationEntry<R>) -> Result<()>,
    {
        let mut tree = unit.entries_tree(Some(uoff)).map_err(|e| self.derr(e))?;
        let root = tree.root().map_err(|e| self.derr(e))?;
        let mut children = root.children();
        while let Some(child) = children.next().map_err(|e| self.derr(e))? {
            f(child.entry())?;
        }
        Ok(())
    }

    fn parse_members(
        &self,
        unit: &Unit,
        uoff: gimli::UnitOffset<usize>,
        unit_base: u64,
    ) -> Result<Vec<Member>> {
        let mut members = Vec::new();
        self.children(unit, uoff, |e| {
            if e.tag() != dw::DW_TAG_member {
                return Ok(());
            }
            let ty = e
                .attr_value(dw::DW_AT_type)
                .and_then(|v| ref_offset(v, unit_base))
                .map(TypeId::from_die)
                .unwrap_or(TypeId::VOID);
            let byte_loc = e
                .attr_value(dw::DW_AT_data_member_location)
                .and_then(member_location)
                .unwrap_or(0);
            let bit_size = e.attr(dw::DW_AT_bit_size).and_then(|a| a.udata_value());
            let mut bitpos = byte_loc.saturating_mul(8);
            if let Some(dbo) = e
                .attr(dw::DW_AT_data_bit_offset)
                .and_then(|a| a.udata_value())
            {
                // DWARF 4+: bit offset from the start of the containing struct.
                bitpos = bitpos.saturating_add(dbo);
            } else if let (Some(bo), Some(bs)) = (
                e.attr(dw::DW_AT_bit_offset).and_then(|a| a.udata_value()),
                bit_size,
            ) {
                // DWARF 2/3: counted from the most significant bit of the
                // storage unit of DW_AT_byte_size bytes (little-endian target).
                let storage = e
                    .attr(dw::DW_AT_byte_size)
                    .and_then(|a| a.udata_value())
                    .unwrap_or(0);
                let from_lsb = (storage * 8).saturating_sub(bo.saturating_add(bs));
                bitpos = bitpos.saturating_add(from_lsb);
            }
            let (offset, bit_offset) = if bit_size.is_some() {
                (bitpos / 8, Some(bitpos % 8))
            } else {
                (bitpos / 8, None)
            };
            members.push(Member {
                name: self.die_name(unit, e),
                ty,
                offset,
                bit_offset,
                bit_size,
            });
            Ok(())
        })?;
        Ok(members)
    }

    #[allow(clippy::too_many_arguments)]
    fn parse_enum(
        &self,
        unit: &Unit,
        uoff: gimli::UnitOffset<usize>,
        entry: &gimli::DebuggingInformationEntry<R>,
        name: Option<String>,
        size: u64,
        unit_base: u64,
        depth: u32,
    ) -> Result<TypeKind> {
        // Signedness from the underlying type when there is one.
        let mut signed = None;
        if let Some(t) = entry
            .attr_value(dw::DW_AT_type)
            .and_then(|v| ref_offset(v, unit_base))
        {
            if let Ok(bt) = self.parse_type(TypeId::from_die(t), &|_, _| None, depth + 1) {
                if let TypeKind::Base { encoding, .. } = bt.kind {
                    signed = Some(matches!(
                        encoding,
                        Encoding::Signed | Encoding::Char { signed: true }
                    ));
                }
            }
        }
        let mut raw_vals = Vec::new();
        self.children(unit, uoff, |e| {
            if e.tag() != dw::DW_TAG_enumerator {
                return Ok(());
            }
            let n = self.die_name(unit, e).unwrap_or_default();
            raw_vals.push((n, e.attr_value(dw::DW_AT_const_value)));
            Ok(())
        })?;
        let any_negative = raw_vals
            .iter()
            .any(|(_, v)| matches!(v, Some(AttributeValue::Sdata(x)) if *x < 0));
        let signed = signed.unwrap_or(any_negative);
        let enumerators = raw_vals
            .into_iter()
            .map(|(n, v)| {
                let val = match v {
                    Some(AttributeValue::Sdata(x)) => x,
                    Some(AttributeValue::Udata(x)) => x as i64,
                    Some(AttributeValue::Data1(x)) if signed => x as i8 as i64,
                    Some(AttributeValue::Data2(x)) if signed => x as i16 as i64,
                    Some(AttributeValue::Data4(x)) if signed => x as i32 as i64,
                    Some(AttributeValue::Data1(x)) => x as i64,
                    Some(AttributeValue::Data2(x)) => x as i64,
                    Some(AttributeValue::Data4(x)) => x as i64,
                    Some(AttributeValue::Data8(x)) => x as i64,
                    _ => 0,
                };
                (n, val)
            })
            .collect();
        Ok(TypeKind::Enum {
            name,
            size,
            signed,
            enumerators,
        })
    }

    fn array_dims(&self, unit: &Unit, uoff: gimli::UnitOffset<usize>) -> Result<Vec<Option<u64>>> {
        let mut dims = Vec::new();
        self.children(unit, uoff, |e| {
            if e.tag() != dw::DW_TAG_subrange_type && e.tag() != dw::DW_TAG_enumeration_type {
                return Ok(());
            }
            let count = if let Some(c) = e.attr(dw::DW_AT_count) {
                c.udata_value()
            } else if let Some(ub) = e.attr(dw::DW_AT_upper_bound) {
                let lb = e
                    .attr(dw::DW_AT_lower_bound)
                    .and_then(|a| a.udata_value())
                    .unwrap_or(0);
                match ub.value() {
                    // GCC writes -1 (or all ones) as the bound of `x[0]`.
                    AttributeValue::Sdata(-1) => Some(0),
                    AttributeValue::Data8(u64::MAX) | AttributeValue::Udata(u64::MAX) => Some(0),
                    AttributeValue::Data4(u32::MAX) => Some(0),
                    _ => ub.udata_value().map(|u| u.wrapping_sub(lb).wrapping_add(1)),
                }
            } else {
                None
            };
            dims.push(count);
            Ok(())
        })?;
        if dims.is_empty() {
            dims.push(None);
        }
        Ok(dims)
    }

    fn parse_params(
        &self,
        unit: &Unit,
        uoff: gimli::UnitOffset<usize>,
        unit_base: u64,
    ) -> Result<(Vec<TypeId>, bool)> {
        let mut params = Vec::new();
        let mut variadic = false;
        self.children(unit, uoff, |e| {
            match e.tag() {
                dw::DW_TAG_formal_parameter => params.push(
                    e.attr_value(dw::DW_AT_type)
                        .and_then(|v| ref_offset(v, unit_base))
                        .map(TypeId::from_die)
                        .unwrap_or(TypeId::VOID),
                ),
                dw::DW_TAG_unspecified_parameters => variadic = true,
                _ => {}
            }
            Ok(())
        })?;
        Ok((params, variadic))
    }

    /// The type and address of a variable DIE (following `DW_AT_specification`).
    pub(crate) fn parse_variable(&self, off: u64, name: &str, decl: bool) -> Result<Variable> {
        let (unit, uoff) = self.unit_for(off)?;
        let unit_base = off - uoff.0 as u64;
        let entry = unit.entry(uoff).map_err(|e| self.derr(e))?;
        let mut ty = entry
            .attr_value(dw::DW_AT_type)
            .and_then(|v| ref_offset(v, unit_base));
        if ty.is_none() {
            if let Some(spec) = entry
                .attr_value(dw::DW_AT_specification)
                .and_then(|v| ref_offset(v, unit_base))
            {
                let (u2, o2) = self.unit_for(spec)?;
                let base2 = spec - o2.0 as u64;
                let e2 = u2.entry(o2).map_err(|e| self.derr(e))?;
                ty = e2
                    .attr_value(dw::DW_AT_type)
                    .and_then(|v| ref_offset(v, base2));
            }
        }
        let address = match entry.attr_value(dw::DW_AT_location) {
            Some(AttributeValue::Exprloc(expr)) => {
                let b = expr.0.slice();
                if b.len() == 1 + unit.address_size() as usize && b[0] == dw::DW_OP_addr.0 {
                    let mut r = expr.0;
                    r.skip(1)
                        .ok()
                        .and_then(|_| r.read_address(unit.address_size()).ok())
                } else {
                    None
                }
            }
            _ => None,
        };
        Ok(Variable {
            name: name.to_string(),
            ty: ty.map(TypeId::from_die).unwrap_or(TypeId::VOID),
            address,
            declaration: decl,
        })
    }
}

/// A reference attribute as a global `.debug_info` offset.
pub(crate) fn ref_offset(v: AttributeValue<R>, unit_base: u64) -> Option<u64> {
    match v {
        AttributeValue::UnitRef(o) => Some(unit_base + o.0 as u64),
        AttributeValue::DebugInfoRef(o) => Some(o.0 as u64),
        _ => None,
    }
}

/// `DW_AT_data_member_location` as a byte offset: a constant, or the
/// DWARF 2 style expression `DW_OP_plus_uconst N`.
fn member_location(v: AttributeValue<R>) -> Option<u64> {
    match v {
        AttributeValue::Exprloc(e) => {
            let mut r = e.0;
            let op = r.read_u8().ok()?;
            match op {
                0x23 /* DW_OP_plus_uconst */ | 0x10 /* DW_OP_constu */ => r.read_uleb128().ok(),
                _ => None,
            }
        }
        AttributeValue::Sdata(x) => u64::try_from(x).ok(),
        other => other.udata_value(),
    }
}
