//! Source-level view of code addresses from the vmlinux's DWARF: function
//! names with inline expansion, file and line (through `addr2line`, one
//! context per compilation unit, found through `.debug_aranges` and built
//! when an address in it is first asked about), and
//! frame variables (their DIEs and location expressions, evaluated with the
//! registers the unwinder recovered).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use gimli::{
    AttributeValue, EndianSlice, Evaluation, EvaluationResult, Expression, Location, Reader,
    RunTimeEndian, UnitOffset, UnitRef,
};
use kdebuginfo::{CodeUnits, KernelDebugInfo, SectionReader};

use crate::regs::{Reg, Regs};
use crate::VarValue;

/// DWARF is read through kdebuginfo's owning reader: what is parsed from
/// it (contexts, CFI) keeps the vmlinux's map alive by itself.
pub(crate) type R = SectionReader;

/// One source-level frame at an address: innermost inline first.
#[derive(Debug, Clone)]
pub struct SymFrame {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub inline: bool,
}

/// What the location evaluator needs from the frame.
pub(crate) struct FrameEnv<'a> {
    pub regs: &'a Regs,
    pub cfa: Option<u64>,
    pub kaslr: u64,
    pub read: &'a dyn Fn(u64, usize) -> Option<u64>,
}

pub(crate) struct DwarfInfo {
    /// Units `.debug_aranges` omits, found when an address is not in it.
    unlisted: OnceLock<CodeUnits>,
    /// An addr2line context per compilation unit, built when an address in
    /// it is first asked about (key: the unit's offset in .debug_info).
    ctxs: Mutex<HashMap<usize, CtxSlot>>,
    /// The context over the whole .debug_info: only for units that refer to
    /// other units (DW_FORM_ref_addr and kin), which a one-unit context
    /// cannot resolve. Parsing every unit header and abbreviation table of a
    /// vmlinux costs ~0.13 s, so it is the exception.
    whole: OnceLock<Result<Shared<addr2line::Context<R>>, String>>,
    cache: Mutex<HashMap<u64, Arc<[SymFrame]>>>,
    /// Weak: this lives among the build's derived tables, inside the
    /// `KernelDebugInfo` itself.
    debug: Weak<KernelDebugInfo>,
}

/// addr2line's contexts fill their caches through `&self` and are not
/// `Sync`: one lock per context.
type Shared<T> = Arc<Mutex<T>>;

type CtxSlot = Arc<OnceLock<Result<Shared<addr2line::Context<R>>, String>>>;

/// A section of the vmlinux (empty if it has none).
pub(crate) fn section(debug: &KernelDebugInfo, name: &str) -> R {
    debug
        .section_reader(name)
        .unwrap_or_else(|| SectionReader::from_vec(Vec::new(), RunTimeEndian::Little))
}

fn load_dwarf(debug: &KernelDebugInfo) -> gimli::Dwarf<R> {
    let load = |id: gimli::SectionId| -> Result<R, ()> { Ok(section(debug, id.name())) };
    match gimli::Dwarf::load(load) {
        Ok(d) => d,
        Err(()) => unreachable!("the loader never fails"),
    }
}

/// Forms that point outside their own unit (into .debug_info at large, a
/// supplementary file or a type unit).
fn is_cross_unit_form(form: u64) -> bool {
    matches!(form, 0x10 | 0x1c | 0x20 | 0x24 | 0x1f20 | 0x1f21)
}

/// Whether the abbreviation table at `table` declares any cross-unit
/// reference form. Unparseable tables count as "yes" (the whole context
/// copes with them or fails the way it always did).
fn abbrevs_cross_unit(table: &[u8]) -> bool {
    let mut r = EndianSlice::new(table, RunTimeEndian::Little);
    let mut step = || -> gimli::Result<Option<bool>> {
        if r.read_uleb128()? == 0 {
            return Ok(Some(false)); // end of the table
        }
        r.read_uleb128()?; // tag
        r.read_u8()?; // children
        loop {
            let (name, form) = (r.read_uleb128()?, r.read_uleb128()?);
            if name == 0 && form == 0 {
                return Ok(None);
            }
            if form == 0x21 {
                r.read_sleb128()?; // DW_FORM_implicit_const's value
            }
            if is_cross_unit_form(form) {
                return Ok(Some(true));
            }
        }
    };
    for _ in 0..1_000_000 {
        match step() {
            Ok(None) => continue,
            Ok(Some(v)) => return v,
            Err(_) => return true,
        }
    }
    true
}

impl DwarfInfo {
    pub fn new(debug: &Arc<KernelDebugInfo>) -> DwarfInfo {
        DwarfInfo {
            unlisted: OnceLock::new(),
            ctxs: Mutex::new(HashMap::new()),
            whole: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
            debug: Arc::downgrade(debug),
        }
    }

    fn debug(&self) -> Result<Arc<KernelDebugInfo>, String> {
        self.debug
            .upgrade()
            .ok_or_else(|| "the debug info was closed".to_string())
    }

    fn unit_at(&self, addr: u64) -> Option<usize> {
        let d = self.debug().ok()?;
        let listed = d.code_units().ok()?;
        listed.unit_at(addr).or_else(|| {
            self.unlisted
                .get_or_init(|| unlisted_map(&load_dwarf(&d), listed))
                .unit_at(addr)
        })
    }

    fn whole(&self) -> Result<Shared<addr2line::Context<R>>, String> {
        self.whole
            .get_or_init(|| {
                addr2line::Context::from_dwarf(load_dwarf(&*self.debug()?))
                    .map(|c| Arc::new(Mutex::new(c)))
                    .map_err(|e| format!("DWARF: {e}"))
            })
            .clone()
    }

    /// The context that knows the unit covering `addr`.
    fn ctx_for(&self, addr: u64) -> Result<Shared<addr2line::Context<R>>, String> {
        let Some(unit) = self.unit_at(addr) else {
            return Err(format!("no DWARF unit covers {addr:#x}"));
        };
        let slot = self
            .ctxs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(unit)
            .or_default()
            .clone();
        slot.get_or_init(|| self.unit_ctx(unit)).clone()
    }

    fn unit_ctx(&self, unit: usize) -> Result<Shared<addr2line::Context<R>>, String> {
        let debug = self.debug()?;
        let info = section(&debug, ".debug_info");
        let abbrev = section(&debug, ".debug_abbrev");
        let header = gimli::DebugInfo::from(info.clone())
            .header_from_offset(gimli::DebugInfoOffset(unit))
            .map_err(|e| format!("DWARF unit at {unit:#x}: {e}"))?;
        let end = unit
            .checked_add(header.length_including_self())
            .filter(|&e| e <= info.len())
            .ok_or_else(|| format!("DWARF unit at {unit:#x} runs past .debug_info"))?;
        let table = abbrev
            .bytes()
            .get(header.debug_abbrev_offset().0..)
            .unwrap_or(&[]);
        if abbrevs_cross_unit(table) {
            return self.whole();
        }
        // A context over this unit alone: its offsets inside .debug_info
        // shift, which nothing in it can observe (no cross-unit forms);
        // .debug_aranges is dropped because its offsets would not match.
        let mut dwarf = load_dwarf(&debug);
        let own = info
            .range(unit, end)
            .ok_or_else(|| format!("DWARF unit at {unit:#x} runs past .debug_info"))?;
        dwarf.debug_info = gimli::DebugInfo::from(own);
        dwarf.debug_aranges =
            gimli::DebugAranges::from(SectionReader::from_vec(Vec::new(), RunTimeEndian::Little));
        addr2line::Context::from_dwarf(dwarf)
            .map(|c| Arc::new(Mutex::new(c)))
            .map_err(|e| format!("DWARF: {e}"))
    }

    fn with_ctx<T>(
        &self,
        addr: u64,
        f: impl FnOnce(&addr2line::Context<R>) -> T,
    ) -> Result<T, String> {
        let ctx = self.ctx_for(addr)?;
        let g = ctx.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&g))
    }

    /// Source frames at a link-time address (already adjusted for return
    /// addresses), innermost inline function first. Cached.
    pub fn frames(&self, addr: u64) -> Arc<[SymFrame]> {
        if let Some(v) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&addr)
        {
            return v.clone();
        }
        let v: Arc<[SymFrame]> = self
            .with_ctx(addr, |ctx| {
                let mut out = Vec::new();
                let Ok(mut it) = ctx.find_frames(addr).skip_all_loads() else {
                    return out;
                };
                while let Ok(Some(f)) = it.next() {
                    let function = f
                        .function
                        .as_ref()
                        .and_then(|n| n.raw_name().ok())
                        .map(|s| s.into_owned());
                    let (file, line) = match &f.location {
                        Some(l) => (l.file.map(str::to_string), l.line),
                        None => (None, None),
                    };
                    out.push(SymFrame {
                        function,
                        file,
                        line,
                        inline: true,
                    });
                }
                if let Some(last) = out.last_mut() {
                    last.inline = false;
                }
                out
            })
            .unwrap_or_default()
            .into();
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(addr, v.clone());
        v
    }

    /// The value of variable `name` in the `depth`-th source frame (0 =
    /// innermost) at link-time address `addr`. `Ok(None)`: no such variable.
    pub fn variable(
        &self,
        addr: u64,
        depth: usize,
        name: &str,
        env: &FrameEnv<'_>,
    ) -> Result<Option<VarValue>, String> {
        self.with_ctx(addr, |ctx| -> Result<Option<VarValue>, String> {
            let unit = ctx
                .find_dwarf_and_unit(addr)
                .skip_all_loads()
                .ok_or_else(|| format!("no DWARF unit covers {addr:#x}"))?;
            let mut dies = Vec::new();
            let mut it = ctx
                .find_frames(addr)
                .skip_all_loads()
                .map_err(|e| e.to_string())?;
            while let Ok(Some(f)) = it.next() {
                dies.push(f.dw_die_offset);
            }
            let Some(Some(scope)) = dies.get(depth).copied() else {
                return Err(format!("no DWARF scope for frame {depth} at {addr:#x}"));
            };
            // The frame base is the containing (non-inline) function's.
            let func = dies.last().copied().flatten();
            let Some(var) = find_variable(unit, scope, addr, name)? else {
                return Ok(None);
            };
            Ok(Some(var_value(unit, var, func, addr, env)))
        })?
    }
}

/// The address-to-unit map `.debug_aranges` gives.
/// The root DIE ranges (DW_AT_ranges, low/high pc) of the compile units
/// `aranges` does not list (walks every unit header: only done when an
/// address is not found there).
fn unlisted_map(dwarf: &gimli::Dwarf<R>, aranges: &CodeUnits) -> CodeUnits {
    let listed = aranges.units();
    let mut ranges = Vec::new();
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Some(off) = header.debug_info_offset() else {
            continue;
        };
        if listed.contains(&off.0)
            || !matches!(
                header.type_(),
                gimli::UnitType::Compilation | gimli::UnitType::Skeleton(_)
            )
        {
            continue;
        }
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        let unit = gimli::UnitRef::new(dwarf, &unit);
        let root = unit
            .entries_tree(None)
            .ok()
            .and_then(|mut t| t.root().ok().map(|r| r.entry().clone()));
        if let Some(e) = root {
            if let Ok(mut die) = unit.die_ranges(&e) {
                while let Ok(Some(r)) = die.next() {
                    if r.end > r.begin {
                        ranges.push((r.begin, r.end, off.0));
                    }
                }
            }
        }
    }
    CodeUnits::new(ranges)
}

fn gerr(e: gimli::Error) -> String {
    e.to_string()
}

/// A DIE's name, following abstract_origin / specification.
fn die_name(unit: UnitRef<'_, R>, off: UnitOffset, depth: u32) -> Option<String> {
    let e = unit.entry(off).ok()?;
    if let Some(v) = e.attr_value(gimli::DW_AT_name) {
        return unit
            .attr_string(v)
            .ok()
            .and_then(|s| s.to_string_lossy().ok().map(|s| s.into_owned()));
    }
    if depth > 4 {
        return None;
    }
    for at in [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification] {
        if let Some(AttributeValue::UnitRef(o)) = e.attr_value(at) {
            return die_name(unit, o, depth + 1);
        }
    }
    None
}

/// An attribute of a DIE or of its abstract origin.
fn attr_follow(
    unit: UnitRef<'_, R>,
    off: UnitOffset,
    at: gimli::DwAt,
    depth: u32,
) -> Option<AttributeValue<R>> {
    let e = unit.entry(off).ok()?;
    if let Some(v) = e.attr_value(at) {
        return Some(v);
    }
    if depth > 4 {
        return None;
    }
    for o in [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification] {
        if let Some(AttributeValue::UnitRef(o)) = e.attr_value(o) {
            return attr_follow(unit, o, at, depth + 1);
        }
    }
    None
}

/// The parameter or local named `name` visible at `addr` in the scope DIE
/// (a subprogram or inlined_subroutine), searching nested lexical blocks
/// that contain `addr` first.
fn find_variable(
    unit: UnitRef<'_, R>,
    scope: UnitOffset,
    addr: u64,
    name: &str,
) -> Result<Option<UnitOffset>, String> {
    let mut tree = unit.entries_tree(Some(scope)).map_err(gerr)?;
    let root = tree.root().map_err(gerr)?;
    fn walk(
        unit: UnitRef<'_, R>,
        node: gimli::EntriesTreeNode<'_, '_, R>,
        addr: u64,
        name: &str,
        depth: u32,
    ) -> Result<Option<UnitOffset>, String> {
        let mut found = None;
        let mut children = node.children();
        while let Some(child) = children.next().map_err(gerr)? {
            let e = child.entry();
            match e.tag() {
                gimli::DW_TAG_formal_parameter | gimli::DW_TAG_variable
                    if found.is_none()
                        && die_name(unit, e.offset(), 0).as_deref() == Some(name) =>
                {
                    found = Some(e.offset());
                }
                gimli::DW_TAG_lexical_block if depth < 32 => {
                    let mut inside = false;
                    if let Ok(mut ranges) = unit.die_ranges(e) {
                        while let Ok(Some(r)) = ranges.next() {
                            if r.begin <= addr && addr < r.end {
                                inside = true;
                            }
                        }
                    }
                    if inside {
                        // An inner declaration shadows the outer one.
                        if let Some(v) = walk(unit, child, addr, name, depth + 1)? {
                            return Ok(Some(v));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(found)
    }
    walk(unit, root, addr, name, 0)
}

/// Byte size of the variable's type (pointers and integers up to 8 bytes).
fn type_size(unit: UnitRef<'_, R>, var: UnitOffset) -> Option<u64> {
    let mut t = match attr_follow(unit, var, gimli::DW_AT_type, 0)? {
        AttributeValue::UnitRef(o) => o,
        _ => return None,
    };
    for _ in 0..16 {
        let e = unit.entry(t).ok()?;
        if e.tag() == gimli::DW_TAG_pointer_type {
            return Some(8);
        }
        if let Some(v) = e
            .attr_value(gimli::DW_AT_byte_size)
            .and_then(|v| v.udata_value())
        {
            return Some(v);
        }
        match e.attr_value(gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(o)) => t = o,
            _ => return None,
        }
    }
    None
}

fn var_value(
    unit: UnitRef<'_, R>,
    var: UnitOffset,
    func: Option<UnitOffset>,
    addr: u64,
    env: &FrameEnv<'_>,
) -> VarValue {
    let size = type_size(unit, var).unwrap_or(8).clamp(1, 8) as usize;
    let Ok(e) = unit.entry(var) else {
        return VarValue::Unavailable("variable DIE unreadable".into());
    };
    if let Some(v) = e.attr_value(gimli::DW_AT_const_value) {
        return match v.udata_value().or(v.sdata_value().map(|x| x as u64)) {
            Some(x) => VarValue::Value(x),
            None => VarValue::Unavailable("constant of an unsupported form".into()),
        };
    }
    let Some(loc) = e.attr_value(gimli::DW_AT_location) else {
        return VarValue::OptimizedOut;
    };
    let expr = match loc {
        AttributeValue::Exprloc(x) => x,
        other => match unit.attr_locations(other) {
            Ok(Some(mut iter)) => {
                let mut hit = None;
                while let Ok(Some(entry)) = iter.next() {
                    if entry.range.begin <= addr && addr < entry.range.end {
                        hit = Some(entry.data);
                        break;
                    }
                }
                match hit {
                    Some(x) => x,
                    None => return VarValue::OptimizedOut,
                }
            }
            Ok(None) => return VarValue::OptimizedOut,
            Err(err) => return VarValue::Unavailable(format!("location list: {err}")),
        },
    };
    if expr.0.is_empty() {
        return VarValue::OptimizedOut;
    }
    let frame_base =
        func.and_then(
            |f| match unit.entry(f).ok()?.attr_value(gimli::DW_AT_frame_base)? {
                AttributeValue::Exprloc(x) => Some(x),
                _ => None,
            },
        );
    evaluate(unit.encoding(), expr, frame_base, size, env)
}

/// Evaluates a location expression to the variable's value.
pub(crate) fn evaluate(
    encoding: gimli::Encoding,
    expr: Expression<R>,
    frame_base: Option<Expression<R>>,
    size: usize,
    env: &FrameEnv<'_>,
) -> VarValue {
    if expr.0.is_empty() {
        return VarValue::OptimizedOut;
    }
    let pieces = match run(encoding, expr, frame_base, env, 0) {
        Ok(p) => p,
        Err(v) => return v,
    };
    let piece = match pieces.as_slice() {
        [p] => p,
        [] => return VarValue::OptimizedOut,
        [p, ..] if p.size_in_bits.is_none_or(|b| b >= 8 * size as u64) => p,
        _ => return VarValue::Unavailable("the value is split into pieces".into()),
    };
    let mask = if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * size)) - 1
    };
    match &piece.location {
        Location::Empty => VarValue::OptimizedOut,
        Location::Register { register } => {
            match Reg::from_dwarf(register.0).and_then(|r| env.regs.get(r)) {
                Some(v) => VarValue::Value(v & mask),
                None => VarValue::Unavailable(format!(
                    "held in {} which is not known in this frame",
                    Reg::from_dwarf(register.0)
                        .map(Reg::name)
                        .unwrap_or("an unsupported register")
                )),
            }
        }
        Location::Address { address } => match (env.read)(*address, size) {
            Some(v) => VarValue::Value(v),
            None => VarValue::Unavailable(format!("memory at {address:#x} unreadable")),
        },
        Location::Value { value } => match value.to_u64(u64::MAX) {
            Ok(v) => VarValue::Value(v & mask),
            Err(e) => VarValue::Unavailable(e.to_string()),
        },
        Location::Bytes { value } => {
            let mut b = [0u8; 8];
            let s = value.bytes();
            let n = s.len().min(8);
            b[..n].copy_from_slice(&s[..n]);
            VarValue::Value(u64::from_le_bytes(b) & mask)
        }
        Location::ImplicitPointer { .. } => VarValue::Unavailable("implicit pointer".into()),
    }
}

fn run(
    encoding: gimli::Encoding,
    expr: Expression<R>,
    frame_base: Option<Expression<R>>,
    env: &FrameEnv<'_>,
    depth: u32,
) -> Result<Vec<gimli::Piece<R>>, VarValue> {
    let un = |s: String| VarValue::Unavailable(s);
    let mut eval: Evaluation<R> = expr.evaluation(encoding);
    let mut res = eval
        .evaluate()
        .map_err(|e| un(format!("bad location expression: {e}")))?;
    loop {
        let next = match res {
            EvaluationResult::Complete => break,
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let v = (env.read)(address, size as usize)
                    .ok_or_else(|| un(format!("memory at {address:#x} unreadable")))?;
                eval.resume_with_memory(gimli::Value::Generic(v))
            }
            EvaluationResult::RequiresRegister { register, .. } => {
                let r = Reg::from_dwarf(register.0)
                    .ok_or_else(|| un(format!("unsupported DWARF register {}", register.0)))?;
                let v = env.regs.get(r).ok_or_else(|| {
                    un(format!(
                        "depends on {} which is not known in this frame",
                        r.name()
                    ))
                })?;
                eval.resume_with_register(gimli::Value::Generic(v))
            }
            EvaluationResult::RequiresFrameBase => {
                let fb = frame_base
                    .clone()
                    .ok_or_else(|| un("no frame base".into()))?;
                if depth > 2 {
                    return Err(un("recursive frame base".into()));
                }
                let p = run(encoding, fb, None, env, depth + 1)?;
                let base = match p.first().map(|p| &p.location) {
                    Some(Location::Address { address }) => *address,
                    Some(Location::Register { register }) => Reg::from_dwarf(register.0)
                        .and_then(|r| env.regs.get(r))
                        .ok_or_else(|| un("frame base register unknown".into()))?,
                    Some(Location::Value { value }) => {
                        value.to_u64(u64::MAX).map_err(|e| un(e.to_string()))?
                    }
                    _ => return Err(un("frame base unavailable".into())),
                };
                eval.resume_with_frame_base(base)
            }
            EvaluationResult::RequiresCallFrameCfa => {
                let cfa = env
                    .cfa
                    .ok_or_else(|| un("the frame's CFA is not known".into()))?;
                eval.resume_with_call_frame_cfa(cfa)
            }
            EvaluationResult::RequiresRelocatedAddress(a) => {
                eval.resume_with_relocated_address(a.wrapping_add(env.kaslr))
            }
            EvaluationResult::RequiresEntryValue(_) => {
                return Err(un(
                    "depends on the value of a register at function entry (DW_OP_entry_value)"
                        .into(),
                ))
            }
            EvaluationResult::RequiresTls(_) => return Err(un("thread-local storage".into())),
            other => return Err(un(format!("unsupported DWARF operation ({other:?})"))),
        };
        res = next.map_err(|e| un(format!("bad location expression: {e}")))?;
    }
    Ok(eval.result())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviation_tables_with_cross_unit_forms() {
        // code 1, DW_TAG_compile_unit, children, (name, strp), (low_pc, addr), end; table end.
        let plain = [1, 0x11, 1, 0x03, 0x0e, 0x11, 0x01, 0, 0, 0];
        assert!(!abbrevs_cross_unit(&plain));
        // code 2, DW_TAG_subprogram, no children, (abstract_origin, ref_addr).
        let cross = [
            1, 0x11, 1, 0x03, 0x0e, 0, 0, 2, 0x2e, 0, 0x31, 0x10, 0, 0, 0,
        ];
        assert!(abbrevs_cross_unit(&cross));
        // DW_FORM_implicit_const carries a value to skip; 0x10 there is data.
        let implicit = [1, 0x11, 0, 0x3b, 0x21, 0x10, 0, 0, 0];
        assert!(!abbrevs_cross_unit(&implicit));
        // Truncated: assume the worst.
        assert!(abbrevs_cross_unit(&[1, 0x11]));
    }

    fn env_eval(bytes: &[u8], regs: &Regs, cfa: Option<u64>, fb: Option<&[u8]>) -> VarValue {
        let enc = gimli::Encoding {
            format: gimli::Format::Dwarf32,
            version: 5,
            address_size: 8,
        };
        let read = |a: u64, n: usize| -> Option<u64> {
            // Memory: each 8-byte word holds its own address + 1.
            let v = (a & !7) + 1;
            Some(if n >= 8 {
                v
            } else {
                v & ((1u64 << (8 * n)) - 1)
            })
        };
        let env = FrameEnv {
            regs,
            cfa,
            kaslr: 0x1000,
            read: &read,
        };
        evaluate(
            enc,
            Expression(SectionReader::from_vec(
                bytes.to_vec(),
                RunTimeEndian::Little,
            )),
            fb.map(|b| Expression(SectionReader::from_vec(b.to_vec(), RunTimeEndian::Little))),
            8,
            &env,
        )
    }

    #[test]
    fn register_location() {
        let mut r = Regs::default();
        r.set(Reg::Rbx, 0xffff_8880_1234_5678);
        // DW_OP_reg3 (rbx)
        assert_eq!(
            env_eval(&[0x53], &r, None, None),
            VarValue::Value(0xffff_8880_1234_5678)
        );
        // DW_OP_reg12 (r12): unknown in this frame
        assert!(matches!(
            env_eval(&[0x5c], &r, None, None),
            VarValue::Unavailable(_)
        ));
    }

    #[test]
    fn fbreg_with_call_frame_cfa() {
        let r = Regs::default();
        // DW_OP_fbreg -24, frame base DW_OP_call_frame_cfa, CFA 0x1000:
        // the value is the memory word at 0xfe8.
        let v = env_eval(&[0x91, 0x68], &r, Some(0x1000), Some(&[0x9c]));
        assert_eq!(v, VarValue::Value(0xfe8 + 1));
        // Without a CFA it is unavailable, not guessed.
        assert!(matches!(
            env_eval(&[0x91, 0x68], &r, None, Some(&[0x9c])),
            VarValue::Unavailable(_)
        ));
    }

    #[test]
    fn breg_and_stack_value_and_entry_value() {
        let mut r = Regs::default();
        r.set(Reg::Rdi, 0x100);
        // DW_OP_breg5 (rdi) +16; DW_OP_stack_value
        assert_eq!(
            env_eval(&[0x75, 0x10, 0x9f], &r, None, None),
            VarValue::Value(0x110)
        );
        // DW_OP_entry_value(DW_OP_reg5) DW_OP_stack_value
        assert!(matches!(
            env_eval(&[0xa3, 0x01, 0x55, 0x9f], &r, None, None),
            VarValue::Unavailable(_)
        ));
        // DW_OP_addr 0x2000 → relocated by the KASLR offset, then read.
        let v = env_eval(&[0x03, 0, 0x20, 0, 0, 0, 0, 0, 0], &r, None, None);
        assert_eq!(v, VarValue::Value(0x3000 + 1));
        // Empty piece list: optimized out.
        assert_eq!(env_eval(&[], &r, None, None), VarValue::OptimizedOut);
    }
}
