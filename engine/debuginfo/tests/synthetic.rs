//! Tests on a small ELF image with hand-built DWARF (gimli's writer), a
//! symbol table, a build-id note and a banner: no real kernel needed.

#![allow(clippy::disallowed_names)]
use gimli::write::{
    AttributeValue as AV, DebugInfoRef, Dwarf, EndianVec, Expression, LineProgram, Sections, Unit,
    UnitEntryId, UnitId,
};
use gimli::{constants as dw, Encoding, Format, LittleEndian};
use kdebuginfo::{Encoding as Enc, Error, KernelDebugInfo, SymbolKind, TypeKind};

// ----------------------------------------------------------------- ELF writer

struct Sec {
    name: &'static str,
    sh_type: u32,
    flags: u64,
    addr: u64,
    data: Vec<u8>,
    link: u32,
    info: u32,
    entsize: u64,
}

fn sec(name: &'static str, sh_type: u32, flags: u64, addr: u64, data: Vec<u8>) -> Sec {
    Sec {
        name,
        sh_type,
        flags,
        addr,
        data,
        link: 0,
        info: 0,
        entsize: 0,
    }
}

/// (name, value, size, STT_*, STB_*, section index)
type Sym = (&'static str, u64, u64, u8, u8, u16);

/// A minimal ET_EXEC ELF64 little-endian image with the given sections and
/// a symbol table (appended as `.symtab` + `.strtab`, then `.shstrtab`).
fn build_elf(mut secs: Vec<Sec>, syms: &[Sym]) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24];
    for &(name, value, size, ty, bind, shndx) in syms {
        let off = strtab.len() as u32;
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        symtab.extend_from_slice(&off.to_le_bytes());
        symtab.push((bind << 4) | ty);
        symtab.push(0);
        symtab.extend_from_slice(&shndx.to_le_bytes());
        symtab.extend_from_slice(&value.to_le_bytes());
        symtab.extend_from_slice(&size.to_le_bytes());
    }
    let symtab_idx = secs.len() as u32 + 1;
    let mut st = sec(".symtab", 2, 0, 0, symtab);
    st.link = symtab_idx + 1;
    st.info = 1;
    st.entsize = 24;
    secs.push(st);
    secs.push(sec(".strtab", 3, 0, 0, strtab));
    let mut shstr = vec![0u8];
    let mut name_offs = Vec::new();
    for s in secs.iter().map(|s| s.name).chain([".shstrtab"]) {
        name_offs.push(shstr.len() as u32);
        shstr.extend_from_slice(s.as_bytes());
        shstr.push(0);
    }
    secs.push(sec(".shstrtab", 3, 0, 0, shstr));

    let mut out = vec![0u8; 64];
    let mut offsets = Vec::new();
    for s in &secs {
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        offsets.push(out.len() as u64);
        out.extend_from_slice(&s.data);
    }
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let shoff = out.len() as u64;
    out.extend_from_slice(&[0u8; 64]); // null section header
    for (i, s) in secs.iter().enumerate() {
        out.extend_from_slice(&name_offs[i].to_le_bytes());
        out.extend_from_slice(&s.sh_type.to_le_bytes());
        out.extend_from_slice(&s.flags.to_le_bytes());
        out.extend_from_slice(&s.addr.to_le_bytes());
        out.extend_from_slice(&offsets[i].to_le_bytes());
        out.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&s.link.to_le_bytes());
        out.extend_from_slice(&s.info.to_le_bytes());
        out.extend_from_slice(&8u64.to_le_bytes());
        out.extend_from_slice(&s.entsize.to_le_bytes());
    }
    let h = &mut out[..64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[6] = 1;
    h[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[40..48].copy_from_slice(&shoff.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes());
    h[58..60].copy_from_slice(&64u16.to_le_bytes());
    h[60..62].copy_from_slice(&(secs.len() as u16 + 1).to_le_bytes());
    h[62..64].copy_from_slice(&(secs.len() as u16).to_le_bytes());
    out
}

fn build_id_note(id: &[u8]) -> Vec<u8> {
    let mut n = Vec::new();
    // An unrelated note first, to check that the parser walks notes.
    n.extend_from_slice(&4u32.to_le_bytes());
    n.extend_from_slice(&4u32.to_le_bytes());
    n.extend_from_slice(&1u32.to_le_bytes());
    n.extend_from_slice(b"Xen\0");
    n.extend_from_slice(&[1, 2, 3, 4]);
    n.extend_from_slice(&4u32.to_le_bytes());
    n.extend_from_slice(&(id.len() as u32).to_le_bytes());
    n.extend_from_slice(&3u32.to_le_bytes());
    n.extend_from_slice(b"GNU\0");
    n.extend_from_slice(id);
    while !n.len().is_multiple_of(4) {
        n.push(0);
    }
    n
}

// --------------------------------------------------------------- DWARF builder

const THE_FOO_ADDR: u64 = 0xffff_ffff_8200_0000;
const COUNTER_ADDR: u64 = 0xffff_ffff_8200_1000;

struct B<'a> {
    dwarf: &'a mut Dwarf,
    unit: UnitId,
}

impl B<'_> {
    fn u(&mut self) -> &mut Unit {
        self.dwarf.units.get_mut(self.unit)
    }
    fn add(
        &mut self,
        parent: Option<UnitEntryId>,
        tag: dw::DwTag,
        name: Option<&str>,
    ) -> UnitEntryId {
        let sid = name.map(|n| self.dwarf.strings.add(n));
        let u = self.dwarf.units.get_mut(self.unit);
        let parent = parent.unwrap_or_else(|| u.root());
        let id = u.add(parent, tag);
        if let Some(sid) = sid {
            u.get_mut(id).set(dw::DW_AT_name, AV::StringRef(sid));
        }
        id
    }
    fn set(&mut self, id: UnitEntryId, at: dw::DwAt, v: AV) {
        self.u().get_mut(id).set(at, v);
    }
    fn base(&mut self, name: &str, size: u8, enc: dw::DwAte) -> UnitEntryId {
        let id = self.add(None, dw::DW_TAG_base_type, Some(name));
        self.set(id, dw::DW_AT_byte_size, AV::Data1(size));
        self.set(id, dw::DW_AT_encoding, AV::Encoding(enc));
        id
    }
    fn typed(
        &mut self,
        parent: Option<UnitEntryId>,
        tag: dw::DwTag,
        name: Option<&str>,
        ty: UnitEntryId,
    ) -> UnitEntryId {
        let id = self.add(parent, tag, name);
        self.set(id, dw::DW_AT_type, AV::UnitRef(ty));
        id
    }
    fn member(
        &mut self,
        st: UnitEntryId,
        name: Option<&str>,
        ty: UnitEntryId,
        loc: AV,
    ) -> UnitEntryId {
        let m = self.typed(Some(st), dw::DW_TAG_member, name, ty);
        self.set(m, dw::DW_AT_data_member_location, loc);
        m
    }
}

fn addr_expr(a: u64) -> AV {
    let mut e = Expression::new();
    e.op_addr(gimli::write::Address::Constant(a));
    AV::Exprloc(e)
}

/// Build the test image. `use_siblings` toggles DW_AT_sibling emission.
#[expect(
    clippy::too_many_lines,
    reason = "the synthetic image's units and DIEs written in order, as a reader of the test follows them"
)]
fn build(use_siblings: bool) -> Vec<u8> {
    let enc = Encoding {
        format: Format::Dwarf32,
        version: 5,
        address_size: 8,
    };
    let mut dwarf = Dwarf::new();
    let u1 = dwarf.units.add(Unit::new(enc, LineProgram::none()));
    let u2 = dwarf.units.add(Unit::new(enc, LineProgram::none()));

    // Unit 2 first (so we have the id of the struct bar definition).
    let bar_def;
    {
        let mut b = B {
            dwarf: &mut dwarf,
            unit: u2,
        };
        let ulong = b.base("long unsigned int", 8, dw::DW_ATE_unsigned);
        bar_def = b.add(None, dw::DW_TAG_structure_type, Some("bar"));
        b.set(bar_def, dw::DW_AT_byte_size, AV::Data1(8));
        b.member(bar_def, Some("x"), ulong, AV::Udata(0));
        let v = b.typed(None, dw::DW_TAG_variable, Some("only_in_unit2"), ulong);
        b.set(v, dw::DW_AT_location, addr_expr(0xffff_ffff_8200_2000));
    }

    let mut b = B {
        dwarf: &mut dwarf,
        unit: u1,
    };
    let int = b.base("int", 4, dw::DW_ATE_signed);
    let uint = b.base("unsigned int", 4, dw::DW_ATE_unsigned);
    let ch = b.base("char", 1, dw::DW_ATE_signed_char);
    let ulong = b.base("long unsigned int", 8, dw::DW_ATE_unsigned);

    // struct bar; (declaration only in this unit) and a pointer to it.
    let bar_decl = b.add(None, dw::DW_TAG_structure_type, Some("bar"));
    b.set(bar_decl, dw::DW_AT_declaration, AV::FlagPresent);
    let ptr_bar = b.typed(None, dw::DW_TAG_pointer_type, None, bar_decl);
    b.set(ptr_bar, dw::DW_AT_byte_size, AV::Data1(8));

    // enum color : int { RED, GREEN, NEG = -2 }
    let color = b.typed(None, dw::DW_TAG_enumeration_type, Some("color"), int);
    b.set(color, dw::DW_AT_byte_size, AV::Data1(4));
    for (n, v) in [
        ("RED", AV::Data1(0)),
        ("GREEN", AV::Data1(1)),
        ("NEG", AV::Sdata(-2)),
    ] {
        let e = b.add(Some(color), dw::DW_TAG_enumerator, Some(n));
        b.set(e, dw::DW_AT_const_value, v);
    }

    // The anonymous union { int u1; char u2; }.
    let anon = b.add(None, dw::DW_TAG_union_type, None);
    b.set(anon, dw::DW_AT_byte_size, AV::Data1(4));
    b.member(anon, Some("u1"), int, AV::Udata(0));
    b.member(anon, Some("u2"), ch, AV::Udata(0));

    // char [16]
    let char16 = b.typed(None, dw::DW_TAG_array_type, None, ch);
    let sr = b.add(Some(char16), dw::DW_TAG_subrange_type, None);
    b.set(sr, dw::DW_AT_count, AV::Data1(16));

    // struct foo
    let foo = b.add(None, dw::DW_TAG_structure_type, Some("foo"));
    b.set(foo, dw::DW_AT_byte_size, AV::Data1(56));
    let ptr_foo = b.typed(None, dw::DW_TAG_pointer_type, None, foo);
    b.set(ptr_foo, dw::DW_AT_byte_size, AV::Data1(8));
    b.member(foo, Some("a"), int, AV::Data1(0));
    let flag = b.typed(Some(foo), dw::DW_TAG_member, Some("flag"), uint);
    b.set(flag, dw::DW_AT_data_bit_offset, AV::Udata(32));
    b.set(flag, dw::DW_AT_bit_size, AV::Data1(1));
    let mode = b.typed(Some(foo), dw::DW_TAG_member, Some("mode"), uint);
    b.set(mode, dw::DW_AT_data_bit_offset, AV::Udata(33));
    b.set(mode, dw::DW_AT_bit_size, AV::Data1(3));
    // DWARF 2 style bitfield: bits 36..38 as byte_size 4 + bit_offset 26.
    let old = b.member(foo, Some("old"), uint, AV::Data1(4));
    b.set(old, dw::DW_AT_byte_size, AV::Data1(4));
    b.set(old, dw::DW_AT_bit_offset, AV::Data1(26));
    b.set(old, dw::DW_AT_bit_size, AV::Data1(2));
    b.member(foo, None, anon, AV::Data1(8));
    let mut plus = Expression::new();
    plus.op_plus_uconst(16);
    b.member(foo, Some("next"), ptr_foo, AV::Exprloc(plus));
    b.member(foo, Some("name"), char16, AV::Data1(24));
    b.member(foo, Some("c"), color, AV::Data1(40));
    b.member(foo, Some("b"), ptr_bar, AV::Data1(48));

    let foo_t = b.typed(None, dw::DW_TAG_typedef, Some("foo_t"), foo);

    // int [2][3], int [0], int []
    let matrix = b.typed(None, dw::DW_TAG_array_type, None, int);
    for ub in [1u8, 2] {
        let s = b.add(Some(matrix), dw::DW_TAG_subrange_type, None);
        b.set(s, dw::DW_AT_upper_bound, AV::Data1(ub));
    }
    b.typed(None, dw::DW_TAG_typedef, Some("matrix_t"), matrix);
    let zero = b.typed(None, dw::DW_TAG_array_type, None, int);
    let s = b.add(Some(zero), dw::DW_TAG_subrange_type, None);
    b.set(s, dw::DW_AT_upper_bound, AV::Sdata(-1));
    b.typed(None, dw::DW_TAG_typedef, Some("zero_t"), zero);
    let flex = b.typed(None, dw::DW_TAG_array_type, None, int);
    b.add(Some(flex), dw::DW_TAG_subrange_type, None);
    b.typed(None, dw::DW_TAG_typedef, Some("flex_t"), flex);

    // typedef int (*handler_t)(int, const char *, ...);
    let cchar = b.typed(None, dw::DW_TAG_const_type, None, ch);
    let pcchar = b.typed(None, dw::DW_TAG_pointer_type, None, cchar);
    let fnty = b.typed(None, dw::DW_TAG_subroutine_type, None, int);
    b.typed(Some(fnty), dw::DW_TAG_formal_parameter, None, int);
    b.typed(Some(fnty), dw::DW_TAG_formal_parameter, None, pcchar);
    b.add(Some(fnty), dw::DW_TAG_unspecified_parameters, None);
    let pfn = b.typed(None, dw::DW_TAG_pointer_type, None, fnty);
    b.typed(None, dw::DW_TAG_typedef, Some("handler_t"), pfn);
    // char (*)[16] and char *const
    let parr = b.typed(None, dw::DW_TAG_pointer_type, None, char16);
    b.typed(None, dw::DW_TAG_typedef, Some("parr_t"), parr);
    let pch = b.typed(None, dw::DW_TAG_pointer_type, None, ch);
    let cpch = b.typed(None, dw::DW_TAG_const_type, None, pch);
    b.typed(None, dw::DW_TAG_typedef, Some("cptr_t"), cpch);
    let restr = b.typed(None, dw::DW_TAG_restrict_type, None, pch);
    b.typed(None, dw::DW_TAG_typedef, Some("restr_t"), restr);

    // A typedef cycle (malformed DWARF): loop_a -> loop_b -> loop_a.
    let loop_a = b.add(None, dw::DW_TAG_typedef, Some("loop_a"));
    let loop_b = b.typed(None, dw::DW_TAG_typedef, Some("loop_b"), loop_a);
    b.set(loop_a, dw::DW_AT_type, AV::UnitRef(loop_b));

    // Variables.
    let v = b.typed(None, dw::DW_TAG_variable, Some("the_foo"), foo_t);
    b.set(v, dw::DW_AT_external, AV::FlagPresent);
    b.set(v, dw::DW_AT_location, addr_expr(THE_FOO_ADDR));
    let decl = b.typed(None, dw::DW_TAG_variable, Some("counter"), ulong);
    b.set(decl, dw::DW_AT_declaration, AV::FlagPresent);
    b.set(decl, dw::DW_AT_external, AV::FlagPresent);
    let def = b.add(None, dw::DW_TAG_variable, None);
    b.set(def, dw::DW_AT_specification, AV::UnitRef(decl));
    b.set(def, dw::DW_AT_location, addr_expr(COUNTER_ADDR));
    let vb = b.typed(None, dw::DW_TAG_variable, Some("a_bar"), bar_decl);
    b.set(vb, dw::DW_AT_declaration, AV::FlagPresent);
    // A reference into the other unit.
    let xv = b.add(None, dw::DW_TAG_variable, Some("bar_direct"));
    b.set(
        xv,
        dw::DW_AT_type,
        AV::DebugInfoRef(DebugInfoRef::Entry(u2, bar_def)),
    );

    // A function with nested children, which the index must skip.
    let f = b.typed(None, dw::DW_TAG_subprogram, Some("do_thing"), int);
    b.set(f, dw::DW_AT_external, AV::FlagPresent);
    b.typed(Some(f), dw::DW_TAG_formal_parameter, Some("arg"), int);
    let blk = b.add(Some(f), dw::DW_TAG_lexical_block, None);
    // A local struct named like a global type: must not be indexed.
    let local = b.add(Some(blk), dw::DW_TAG_structure_type, Some("local_only"));
    b.set(local, dw::DW_AT_byte_size, AV::Data1(4));
    b.typed(Some(blk), dw::DW_TAG_variable, Some("local_var"), int);

    if use_siblings {
        for (_, unit) in dwarf.units.iter_mut() {
            let ids: Vec<UnitEntryId> = unit.get(unit.root()).children().copied().collect();
            for id in ids {
                unit.get_mut(id).set_sibling(true);
            }
        }
    }

    let mut sections = Sections::new(EndianVec::new(LittleEndian));
    dwarf.write(&mut sections).expect("write DWARF");
    let mut secs = vec![
        sec(".text", 1, 6, 0xffff_ffff_8100_0000, vec![0xcc; 64]),
        sec(
            ".rodata",
            1,
            2,
            0xffff_ffff_8180_0000,
            b"Linux version 6.1.0-99-test-amd64 (nobody@example) #1 SMP\n\0".to_vec(),
        ),
        sec(
            ".notes",
            7,
            2,
            0xffff_ffff_8190_0000,
            build_id_note(&[0xde, 0xad, 0xbe, 0xef, 0x01]),
        ),
        sec(
            ".orc_unwind_ip",
            1,
            2,
            0xffff_ffff_81a0_0000,
            vec![1, 2, 3, 4],
        ),
        sec(".bss", 8, 3, 0xffff_ffff_8200_0000, Vec::new()),
    ];
    sections
        .for_each(|id, w| -> Result<(), ()> {
            if !w.slice().is_empty() {
                secs.push(sec(id.name(), 1, 0, 0, w.slice().to_vec()));
            }
            Ok(())
        })
        .unwrap();
    let syms: &[Sym] = &[
        ("_stext", 0xffff_ffff_8100_0000, 0, 0, 1, 1),
        ("start_kernel", 0xffff_ffff_8100_0000, 16, 2, 1, 1),
        ("local_helper", 0xffff_ffff_8100_0010, 16, 2, 0, 1),
        ("linux_banner", 0xffff_ffff_8180_0000, 59, 1, 1, 2),
        ("the_foo", THE_FOO_ADDR, 56, 1, 1, 5),
        // A variable the model can read has a symbol (a name without one is
        // absent, however DWARF describes it).
        ("counter", COUNTER_ADDR, 8, 1, 1, 5),
        ("do_thing", 0xffff_ffff_8100_0020, 16, 2, 1, 1),
        ("only_in_unit2", 0xffff_ffff_8200_2000, 8, 1, 1, 5),
        ("a_bar", 0xffff_ffff_8200_3000, 8, 1, 1, 5),
        ("bar_direct", 0xffff_ffff_8200_4000, 8, 1, 1, 5),
        // So that only the index (which must not see block-local DIEs)
        // decides that it is not a global.
        ("local_var", 0xffff_ffff_8200_5000, 4, 1, 0, 5),
    ];
    build_elf(secs, syms)
}

fn open(use_siblings: bool) -> KernelDebugInfo {
    KernelDebugInfo::from_bytes("synthetic-vmlinux", build(use_siblings)).expect("open")
}

// ----------------------------------------------------------------------- tests

#[test]
fn elf_basics() {
    let k = open(true);
    assert_eq!(k.build_id(), Some(&[0xde, 0xad, 0xbe, 0xef, 0x01][..]));
    assert_eq!(k.build_id_hex().as_deref(), Some("deadbeef01"));
    assert!(k.has_dwarf());
    assert!(k.is_64bit_le());
    let orc = k.section(".orc_unwind_ip").unwrap();
    assert_eq!(orc.addr, 0xffff_ffff_81a0_0000);
    assert_eq!(orc.data, &[1, 2, 3, 4]);
    assert!(k.section(".orc_header").is_none());
    assert_eq!(k.release().as_deref(), Some("6.1.0-99-test-amd64"));
    assert!(
        k.read_link_addr(0xffff_ffff_8200_0000, 4).is_none(),
        ".bss has no file bytes"
    );
}

#[test]
fn build_id_check() {
    let k = open(true);
    k.check_build_id("DEADBEEF01").unwrap();
    let e = k.check_build_id("0123456789").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("0123456789") && msg.contains("deadbeef01"),
        "{msg}"
    );
}

#[test]
fn symbols() {
    let k = open(true);
    let s = k.symbol("start_kernel").unwrap();
    assert_eq!(
        (s.addr, s.size, s.kind, s.global),
        (0xffff_ffff_8100_0000, 16, SymbolKind::Function, true)
    );
    assert_eq!(k.symbol("the_foo").unwrap().kind, SymbolKind::Object);
    // The function wins over the zero-sized label at the same address.
    let so = k.symbolize(0xffff_ffff_8100_0004).unwrap();
    assert_eq!((so.symbol.name, so.offset), ("start_kernel", 4));
    let so = k.symbolize(0xffff_ffff_8100_0011).unwrap();
    assert_eq!(
        (so.symbol.name, so.offset, so.symbol.global),
        ("local_helper", 1, false)
    );
    assert!(k.symbolize(0x1000).is_none());
    assert_eq!(k.symbols().unwrap().len(), 11);
}

/// Local symbols follow their object file's `STT_FILE` entry: a symbol
/// points at the code of its own file, else of the files around it.
#[test]
fn symbols_point_at_the_defining_file() {
    const T: u64 = 0xffff_ffff_8100_0000;
    const D: u64 = 0xffff_ffff_8200_0000;
    const ABS: u16 = 0xfff1;
    let syms: &[Sym] = &[
        ("a.c", 0, 0, 4, 0, ABS),
        ("a_helper", T + 0x100, 16, 2, 0, 1),
        ("a_static", D + 0x10, 8, 1, 0, 5),
        ("b.c", 0, 0, 4, 0, ABS),
        ("b_only_data", D + 0x30, 8, 1, 0, 5),
        ("c.c", 0, 0, 4, 0, ABS),
        ("c_helper", T + 0x300, 16, 2, 0, 1),
        ("c_static", D + 0x50, 8, 1, 0, 5),
        ("g_between", D + 0x20, 8, 1, 1, 5),
        ("g_alone", D + 0x1000, 8, 1, 1, 6),
    ];
    let k = KernelDebugInfo::from_bytes("symbols-only", build_elf(Vec::new(), syms)).unwrap();
    let s = k.symbols().unwrap();
    assert_eq!(s.len(), 7, "FILE entries are not symbols");
    let at = |n| s.defining_file_text(n);
    assert_eq!(
        at("a_static"),
        Some((T + 0x100, T + 0x100)),
        "its own file's code"
    );
    assert_eq!(at("a_helper"), Some((T + 0x100, T + 0x100)));
    assert_eq!(
        at("b_only_data"),
        Some((T + 0x100, T + 0x300)),
        "a file without code: the files around it"
    );
    assert_eq!(
        at("g_between"),
        Some((T + 0x100, T + 0x300)),
        "a global: the files of its neighbours in memory"
    );
    assert_eq!(at("g_alone"), None, "no local neighbour in its section");
    assert_eq!(at("nope"), None);
}

#[expect(
    clippy::too_many_lines,
    reason = "one assertion after another over the types `build` wrote, in the same order"
)]
fn check_types(k: &KernelDebugInfo) {
    let foo = k.find_type("struct foo").unwrap();
    assert_eq!(k.find_type("foo").unwrap(), foo, "bare tag name");
    assert_eq!(k.sizeof(foo).unwrap(), 56);
    assert_eq!(k.type_name(foo), "struct foo");
    let t = k.type_of(foo).unwrap();
    let names: Vec<_> = t.members().iter().map(|m| m.name.clone()).collect();
    assert_eq!(
        names,
        [
            Some("a"),
            Some("flag"),
            Some("mode"),
            Some("old"),
            None,
            Some("next"),
            Some("name"),
            Some("c"),
            Some("b")
        ]
        .map(|n| n.map(String::from))
    );
    let m = |p: &str| k.member_path(foo, p).unwrap();
    assert_eq!((m("a").offset, m("a").bit_size), (0, None));
    let flag = m("flag");
    assert_eq!(
        (flag.offset, flag.bit_offset, flag.bit_size),
        (4, Some(0), Some(1))
    );
    let mode = m("mode");
    assert_eq!(
        (mode.offset, mode.bit_offset, mode.bit_size),
        (4, Some(1), Some(3))
    );
    let old = m("old");
    assert_eq!(
        (old.offset, old.bit_offset, old.bit_size),
        (4, Some(4), Some(2))
    );
    assert_eq!(m("u2").offset, 8, "through the anonymous union");
    assert_eq!(k.type_name(m("u2").ty), "char");
    assert_eq!(m("next").offset, 16, "DW_OP_plus_uconst location");
    assert_eq!(k.type_name(m("next").ty), "struct foo *");
    assert_eq!(k.type_name(m("name").ty), "char [16]");
    assert_eq!(k.sizeof(m("name").ty).unwrap(), 16);
    assert_eq!(m("name[3]").offset, 27);
    assert_eq!(k.type_name(m("c").ty), "enum color");
    assert_eq!(k.declaration(m("name").ty, "name"), "char name[16]");

    // The pointer to the declared `struct bar` resolves to unit 2's definition.
    let b = m("b");
    let TypeKind::Pointer { target } = k.type_of(b.ty).unwrap().kind else {
        panic!("not a pointer")
    };
    let bar = k.type_of(target).unwrap();
    assert!(!bar.incomplete);
    assert_eq!(bar.members().len(), 1);
    assert_eq!(k.sizeof(target).unwrap(), 8);
    assert_eq!(k.find_type("struct bar").unwrap(), bar.id);

    // Enum.
    let color = k.find_type("enum color").unwrap();
    match &k.type_of(color).unwrap().kind {
        TypeKind::Enum {
            name,
            size,
            signed,
            enumerators,
        } => {
            assert_eq!(name.as_deref(), Some("color"));
            assert_eq!(*size, 4);
            assert!(*signed);
            assert_eq!(
                enumerators,
                &[("RED".into(), 0), ("GREEN".into(), 1), ("NEG".into(), -2)]
            );
        }
        k => panic!("{k:?}"),
    }
    assert_eq!(k.enumerator_value("enum color", "NEG").unwrap(), -2);

    // Typedefs, base types.
    let foo_t = k.find_type("foo_t").unwrap();
    assert_eq!(k.strip_typedefs_and_cv(foo_t).unwrap(), foo);
    assert_eq!(k.type_name(foo_t), "foo_t");
    assert_eq!(k.member_path(foo_t, "flag").unwrap().offset, 4);
    let ul = k.find_type("unsigned long").unwrap();
    assert_eq!(k.type_name(ul), "long unsigned int");
    match &k.type_of(ul).unwrap().kind {
        TypeKind::Base { size, encoding, .. } => assert_eq!((*size, *encoding), (8, Enc::Unsigned)),
        k => panic!("{k:?}"),
    }
    let c = k.find_type("char").unwrap();
    assert!(matches!(
        k.type_of(c).unwrap().kind,
        TypeKind::Base {
            encoding: Enc::Char { signed: true },
            ..
        }
    ));

    // Arrays.
    let mx = k.find_type("matrix_t").unwrap();
    assert_eq!(
        k.type_name(k.strip_typedefs_and_cv(mx).unwrap()),
        "int [2][3]"
    );
    assert_eq!(k.sizeof(mx).unwrap(), 24);
    let zero = k
        .strip_typedefs_and_cv(k.find_type("zero_t").unwrap())
        .unwrap();
    assert!(matches!(
        k.type_of(zero).unwrap().kind,
        TypeKind::Array { count: Some(0), .. }
    ));
    let flex = k
        .strip_typedefs_and_cv(k.find_type("flex_t").unwrap())
        .unwrap();
    assert!(matches!(
        k.type_of(flex).unwrap().kind,
        TypeKind::Array { count: None, .. }
    ));
    assert_eq!(k.type_name(flex), "int []");

    // Declarator syntax.
    let n = |t: &str| k.type_name(k.strip_typedefs_and_cv(k.find_type(t).unwrap()).unwrap());
    assert_eq!(n("handler_t"), "int (*)(int, const char *, ...)");
    assert_eq!(n("parr_t"), "char (*)[16]");
    assert_eq!(n("restr_t"), "char *");
    let cptr = k.find_type("cptr_t").unwrap();
    let TypeKind::Typedef { target, .. } = k.type_of(cptr).unwrap().kind else {
        panic!()
    };
    assert_eq!(k.type_name(target), "char * const");
    assert_eq!(k.sizeof(cptr).unwrap(), 8);

    // Synthetic pointers.
    let pp = k.find_type("struct foo **").unwrap();
    assert_eq!(k.type_name(pp), "struct foo **");
    assert_eq!(k.sizeof(pp).unwrap(), 8);
    assert_eq!(
        k.pointer_to(foo).map(|p| k.type_name(p)).as_deref(),
        Some("struct foo *")
    );

    // Variables.
    let v = k.variable("the_foo").unwrap();
    assert_eq!(
        (v.ty, v.address, v.declaration),
        (foo_t, Some(THE_FOO_ADDR), false)
    );
    let cnt = k.variable("counter").unwrap();
    assert_eq!(
        cnt.address,
        Some(COUNTER_ADDR),
        "definition via DW_AT_specification preferred"
    );
    assert!(!cnt.declaration);
    assert_eq!(k.type_name(cnt.ty), "long unsigned int");
    assert_eq!(
        k.type_name(k.variable_type("only_in_unit2").unwrap()),
        "long unsigned int"
    );
    let bd = k.variable_type("bar_direct").unwrap();
    assert_eq!(k.sizeof(bd).unwrap(), 8, "DW_FORM_ref_addr across units");
    assert!(k.variable("a_bar").unwrap().declaration);

    // Functions and what the index must not see.
    let f = k.function_type("do_thing").unwrap();
    match &k.type_of(f).unwrap().kind {
        TypeKind::Function {
            params, variadic, ..
        } => assert_eq!((params.len(), *variadic), (1, false)),
        k => panic!("{k:?}"),
    }
    assert!(matches!(
        k.find_type("struct local_only"),
        Err(Error::TypeNotFound(_))
    ));
    assert!(matches!(
        k.variable("local_var"),
        Err(Error::VariableNotFound(_))
    ));

    // Errors, not panics.
    assert!(matches!(
        k.member_path(foo, "nope"),
        Err(Error::NoMember { .. })
    ));
    assert!(matches!(
        k.member_path(foo, "next.a"),
        Err(Error::BadMemberPath { .. })
    ));
    assert!(matches!(
        k.member_path(foo, "a[1"),
        Err(Error::BadMemberPath { .. })
    ));
    let la = k.find_type("loop_a").unwrap();
    assert!(matches!(
        k.strip_typedefs_and_cv(la),
        Err(Error::TypeCycle { .. })
    ));
    assert!(matches!(k.sizeof(la), Err(Error::TypeCycle { .. })));
    assert!(!k.type_name(la).is_empty());
    assert!(k.sizeof(k.find_type("void").unwrap()).is_err());

    let stats = k.index_stats().unwrap();
    assert_eq!(stats.units, 2);
}

#[test]
fn types_with_siblings() {
    check_types(&open(true));
}

#[test]
fn types_without_siblings() {
    check_types(&open(false));
}

#[test]
fn shared_across_threads() {
    let k = std::sync::Arc::new(open(true));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let k = k.clone();
            std::thread::spawn(move || {
                let foo = k.find_type("struct foo").unwrap();
                k.member_path(foo, "u1").unwrap().offset
            })
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 8);
    }
}

#[test]
fn no_dwarf_is_a_clear_error() {
    let img = build_elf(
        vec![sec(".text", 1, 6, 0xffff_ffff_8100_0000, vec![0; 16])],
        &[],
    );
    let k = KernelDebugInfo::from_bytes("vmlinuz-stripped", img).unwrap();
    assert!(!k.has_dwarf());
    let e = k.find_type("struct task_struct").unwrap_err();
    assert!(matches!(e, Error::NoDwarf { .. }));
    assert!(e.to_string().contains("-dbg"), "{e}");
    assert!(k.build_id().is_none());
    assert!(matches!(
        k.check_build_id("00"),
        Err(Error::NoBuildId { .. })
    ));
}

#[test]
fn garbage_and_truncated_files_do_not_panic() {
    assert!(matches!(
        KernelDebugInfo::from_bytes("x", vec![]),
        Err(Error::BadElf { .. })
    ));
    assert!(KernelDebugInfo::from_bytes("x", b"\x7fELF\x02\x01\x01garbage".to_vec()).is_err());
    let full = build(true);
    // Every truncation and a few corruptions: opening and querying must not panic.
    let step = (full.len() / 97).max(1);
    for cut in (0..full.len()).step_by(step) {
        let img = full[..cut].to_vec();
        if let Ok(k) = KernelDebugInfo::from_bytes("x", img) {
            let _ = k.build_id();
            let _ = k.release();
            let _ = k.symbolize(0xffff_ffff_8100_0004);
            if let Ok(id) = k.find_type("struct foo") {
                let _ = k.member_path(id, "u2");
                let _ = k.type_name(id);
            }
        }
    }
    for i in (0..full.len()).step_by(step) {
        let mut img = full.clone();
        for b in img.iter_mut().skip(i).take(64) {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        if let Ok(k) = KernelDebugInfo::from_bytes("x", img) {
            let _ = k.release();
            let _ = k.symbol("start_kernel");
            for t in ["struct foo", "foo_t", "handler_t", "matrix_t", "loop_a"] {
                if let Ok(id) = k.find_type(t) {
                    let _ = k.sizeof(id);
                    let _ = k.type_name(id);
                    let _ = k.member_path(id, "u2");
                }
            }
            let _ = k.variable("counter");
        }
    }
}

#[test]
fn discovery_layouts() {
    let dir = std::env::temp_dir().join(format!("kdebuginfo-test-{}", std::process::id()));
    let rel = "6.1.0-99-test-amd64";
    std::fs::create_dir_all(dir.join(rel)).unwrap();
    let c = kdebuginfo::candidate_paths(rel, Some("deadbeef01"), std::slice::from_ref(&dir));
    assert!(c.contains(&dir.join(format!("vmlinux-{rel}"))));
    assert!(c.contains(&dir.join(rel).join("vmlinux")));
    assert!(c.contains(&dir.join(".build-id/de/adbeef01.debug")));
    assert!(c.contains(&std::path::PathBuf::from(format!(
        "/usr/lib/debug/boot/vmlinux-{rel}"
    ))));
    assert!(c.contains(&std::path::PathBuf::from(format!(
        "/usr/lib/debug/lib/modules/{rel}/vmlinux"
    ))));
    assert!(c.contains(&std::path::PathBuf::from(
        "/usr/lib/debug/.build-id/de/adbeef01.debug"
    )));

    let e =
        kdebuginfo::find_vmlinux(rel, Some("deadbeef01"), std::slice::from_ref(&dir)).unwrap_err();
    assert!(e.to_string().contains(&format!("vmlinux-{rel}")), "{e}");
    std::fs::write(dir.join(rel).join("vmlinux"), build(true)).unwrap();
    let p = kdebuginfo::find_vmlinux(rel, Some("deadbeef01"), std::slice::from_ref(&dir)).unwrap();
    assert_eq!(p, dir.join(rel).join("vmlinux"));
    // A vmlinux with another build-id is not taken.
    assert!(kdebuginfo::find_vmlinux(rel, Some("0011223344"), std::slice::from_ref(&dir)).is_err());
    // From bytes: a mapped file's index would be persisted in the user's cache.
    let k = KernelDebugInfo::from_bytes(&p, std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(
        k.find_type("struct foo")
            .map(|id| k.sizeof(id).unwrap())
            .unwrap(),
        56
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn derived_tables_are_made_once_per_type() {
    let k = open(true);
    let made = std::sync::atomic::AtomicUsize::new(0);
    let a = k.derived(|| {
        made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        42u32
    });
    let b = k.derived(|| {
        made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        7u32
    });
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!((*a, made.into_inner()), (42, 1));
    // Another type has its own slot.
    assert_eq!(*k.derived(|| "x".to_string()), "x");
}
