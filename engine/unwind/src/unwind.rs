//! The unwinding loop: starting registers, one step at a time (DWARF CFI,
//! ORC, exception frames, a frame-pointer fallback), frames with their
//! source view, and the checks that stop a corrupt stack.

use gimli::UnwindContext;
use kmodel::tasks::Task;
use kmodel::Kernel;

use crate::cfi::{Cfa, CfiRow, Rule};
use crate::orc::{reg as orc_reg, OrcEntry, OrcKind, OrcTable};
use crate::regs::{Reg, Regs};
use crate::{Frame, StackTrace, Start, Unwinder};

/// More frames than this means a loop or a corrupt stack.
pub const MAX_FRAMES: usize = 256;

/// Lowest kernel address (the start of the kernel half on x86_64).
const KERNEL_MIN: u64 = 0xffff_8000_0000_0000;

/// The registers of one frame as recovered by the unwinder.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub regs: Regs,
    /// The pc is exact (first frame from CPU registers, or an interrupted
    /// instruction) rather than a return address.
    pub interrupted: bool,
    /// The canonical frame address of this frame (the caller's sp), once
    /// the step out of the frame computed it.
    pub cfa: Option<u64>,
    /// Entered from a full register set (CPU registers or a pt_regs).
    pub full: bool,
    /// Reached by a step whose CFA was not sp-relative (it may have moved
    /// to another stack, e.g. from the IRQ stack back to the task's).
    pub switched: bool,
}

/// A loaded module's text, ORC table and symbols.
pub(crate) struct ModuleCode {
    pub name: String,
    /// Core and init memory, [start, end).
    pub ranges: Vec<(u64, u64)>,
    pub orc: OrcTable,
    /// (address, size, name), sorted by address.
    pub syms: Vec<(u64, u64, String)>,
}

enum Step {
    Next(Box<State>),
    End,
    /// No unwind information: try the fallback.
    NotFound,
    Fail(String),
}

struct Ctx<'a> {
    u: &'a Unwinder,
    k: &'a Kernel,
    cfi_ctx: Box<UnwindContext<usize>>,
}

impl Ctx<'_> {
    fn read_u64(&self, addr: u64) -> Result<u64, String> {
        self.k
            .read_u64(addr)
            .map_err(|e| format!("stack memory at {addr:#x} unreadable: {e}"))
    }
}

pub(crate) fn unwind_task(u: &Unwinder, k: &Kernel, task: &Task<'_>) -> StackTrace {
    let mut trace = StackTrace {
        task: task.addr(),
        pid: task.pid,
        start: None,
        frames: Vec::new(),
        error: None,
        reached_user: false,
        states: Vec::new(),
    };
    let (state, start) = match initial_state(k, task) {
        Ok(s) => s,
        Err(e) => {
            trace.error = Some(e);
            return trace;
        }
    };
    trace.start = Some(start);
    let mut cx = Ctx {
        u,
        k,
        cfi_ctx: Box::new(UnwindContext::new()),
    };
    let mut st = state;
    loop {
        let Some(pc) = st.regs.get(Reg::Rip) else {
            trace.error = Some("the program counter is not known".into());
            break;
        };
        if st.regs.user_mode() || pc < KERNEL_MIN {
            trace.reached_user = true;
            break;
        }
        if trace.states.len() >= MAX_FRAMES {
            trace.error = Some(format!(
                "more than {MAX_FRAMES} frames: the stack is corrupt or loops"
            ));
            break;
        }
        let idx = trace.states.len();
        push_frames(&cx, &st, idx, &mut trace.frames);
        let mut cur = st.clone();
        let step = step(&mut cx, &mut cur);
        trace.states.push(cur.clone());
        let next = match step {
            Step::Next(n) => *n,
            Step::End => break,
            Step::NotFound => match fallback(&cx, &cur) {
                Ok(n) => n,
                Err(e) => {
                    trace.error = Some(e);
                    break;
                }
            },
            Step::Fail(e) => {
                trace.error = Some(e);
                break;
            }
        };
        let (old_sp, new_sp) = (cur.regs.get(Reg::Rsp), next.regs.get(Reg::Rsp));
        if new_sp.is_none() {
            trace.error = Some("the stack pointer of the caller is not known".into());
            break;
        }
        if old_sp == new_sp && cur.regs.get(Reg::Rip) == next.regs.get(Reg::Rip) {
            trace.error = Some(format!("no progress at pc {pc:#x}: the stack loops"));
            break;
        }
        if !next.full && !next.switched && new_sp < old_sp {
            trace.error = Some(format!(
                "the stack pointer went backwards ({:#x} → {:#x}) at pc {pc:#x}",
                old_sp.unwrap_or(0),
                new_sp.unwrap_or(0)
            ));
            break;
        }
        st = next;
    }
    trace
}

/// Where a task's unwinding starts: the registers of its CPU if it was
/// running, else the frame it was switched out with.
fn initial_state(k: &Kernel, task: &Task<'_>) -> Result<(State, Start), String> {
    let on_cpu = k
        .on_cpu(task)
        .map_err(|e| format!("whether the task was on a CPU: {e}"))?;
    if on_cpu {
        let cpu = task.cpu.unwrap_or(0);
        let words = k.cpu_saved_regs(cpu).map_err(|e| e.to_string())?;
        let regs = Regs::from_pt_regs(&words)
            .ok_or_else(|| format!("registers for CPU {cpu} are truncated"))?;
        return Ok((
            State {
                regs,
                interrupted: true,
                cfa: None,
                full: true,
                switched: true,
            },
            Start::Cpu(cpu),
        ));
    }
    let f = k.switched_out_frame(task).map_err(|e| e.to_string())?;
    let mut regs = Regs::default();
    regs.set(Reg::Rip, f.ret_addr);
    for (reg, v) in [
        (Reg::Rbp, f.bp),
        (Reg::Rbx, f.bx),
        (Reg::R12, f.r12),
        (Reg::R13, f.r13),
        (Reg::R14, f.r14),
        (Reg::R15, f.r15),
    ] {
        regs.set_opt(reg, v);
    }
    regs.set(Reg::Rsp, f.sp);
    Ok((
        State {
            regs,
            interrupted: false,
            cfa: None,
            full: false,
            switched: false,
        },
        Start::SwitchedOut,
    ))
}

fn in_vmlinux(u: &Unwinder, link: u64) -> bool {
    link >= u.text.0 && link < u.text.1
}

fn module_of(u: &Unwinder, k: &Kernel, pc: u64) -> Option<usize> {
    u.modules
        .get_or_init(|| load_modules(k))
        .iter()
        .position(|m| m.ranges.iter().any(|r| pc >= r.0 && pc < r.1))
}

/// A state's pc and the address to look it up at. A return address is
/// looked up one byte back, in the call. But a task forked that never ran
/// "returns" to the first byte of the code its creator wrote into its saved
/// frame, after no call: there the byte before falls in no symbol
/// (padding), and pc starts one.
fn lookup_pc(u: &Unwinder, st: &State) -> (u64, u64) {
    let pc = st.regs.get(Reg::Rip).unwrap_or(0);
    let back = pc.wrapping_sub(u64::from(!st.interrupted));
    if st.interrupted {
        return (pc, back);
    }
    let contains = |a: u64| {
        u.debug
            .symbolize(a.wrapping_sub(u.kaslr))
            .is_some_and(|s| s.offset < s.symbol.size)
    };
    let starts = u
        .debug
        .symbolize(pc.wrapping_sub(u.kaslr))
        .is_some_and(|s| s.offset == 0 && s.symbol.size > 0);
    (pc, if starts && !contains(back) { pc } else { back })
}

/// The frames (inline ones first) for one register state.
fn push_frames(cx: &Ctx<'_>, st: &State, idx: usize, out: &mut Vec<Frame>) {
    let u = cx.u;
    let (pc, lookup) = lookup_pc(u, st);
    let link = lookup.wrapping_sub(u.kaslr);
    let regs = st.full.then_some(st.regs);
    let sp = st.regs.get(Reg::Rsp).unwrap_or(0);
    let base = Frame {
        pc,
        sp,
        function: None,
        offset: 0,
        size: 0,
        file: None,
        line: None,
        inline: false,
        module: None,
        regs,
        state: idx,
        depth: 0,
    };
    if in_vmlinux(u, link) {
        let (sym_name, offset, size) = match u.debug.symbolize(link) {
            Some(s) => (
                Some(s.symbol.name.to_string()),
                pc.wrapping_sub(s.symbol.addr.wrapping_add(u.kaslr)),
                s.symbol.size,
            ),
            None => (None, 0, 0),
        };
        // Without DWARF a GCC clone (`__mutex_lock.constprop.0`, `x.cold`)
        // is named by its function, as DWARF names it.
        let sym_name = if u.debug.has_dwarf() {
            sym_name
        } else {
            sym_name.map(|n| clone_base(&n).to_string())
        };
        let syms = u.build.dwarf.frames(link);
        if syms.iter().all(|s| s.function.is_none()) {
            let (file, line) = syms
                .first()
                .map(|s| (s.file.clone(), s.line))
                .unwrap_or((None, None));
            out.push(Frame {
                function: sym_name,
                offset,
                size,
                file,
                line,
                ..base
            });
            return;
        }
        for (d, s) in syms.iter().enumerate() {
            out.push(Frame {
                function: s.function.clone().or_else(|| sym_name.clone()),
                offset,
                size,
                file: s.file.clone(),
                line: s.line,
                inline: s.inline,
                regs: if d == 0 { regs } else { None },
                depth: d,
                ..base.clone()
            });
        }
        return;
    }
    if let Some(mi) = module_of(u, cx.k, lookup) {
        let m = &u.modules.get().unwrap()[mi];
        let i = m.syms.partition_point(|s| s.0 <= lookup);
        let (function, offset, size) = match i.checked_sub(1).map(|i| &m.syms[i]) {
            Some((a, sz, n)) => (Some(n.clone()), pc - a, *sz),
            None => (None, 0, 0),
        };
        out.push(Frame {
            function,
            offset,
            size,
            module: Some(m.name.clone()),
            ..base
        });
        return;
    }
    out.push(base);
}

/// One step: the caller's registers. Sets `st.cfa`.
fn step(cx: &mut Ctx<'_>, st: &mut State) -> Step {
    let u = cx.u;
    let (_, lookup) = lookup_pc(u, st);
    let link = lookup.wrapping_sub(u.kaslr);
    if in_vmlinux(u, link) {
        let orc = u.orc_table();
        let e = orc.lookup(link);
        let prefer_orc = e.is_some_and(|e| e.sp_reg == orc_reg::SP_INDIRECT);
        if !prefer_orc {
            if let Some(row) = u.cfi().row(link, &mut cx.cfi_ctx) {
                return apply_cfi(cx, &row, st);
            }
        }
        return match e {
            Some(e) => apply_orc(cx, &e, st),
            None => Step::NotFound,
        };
    }
    if let Some(mi) = module_of(u, cx.k, lookup) {
        let m = &u.modules.get().unwrap()[mi];
        return match m.orc.lookup(lookup) {
            Some(e) => apply_orc(cx, &e, st),
            None => Step::NotFound,
        };
    }
    Step::NotFound
}

fn apply_cfi(cx: &Ctx<'_>, row: &CfiRow, st: &mut State) -> Step {
    let cfa = match &row.cfa {
        Cfa::RegOffset(r, off) => match st.regs.get(*r) {
            Some(v) => v.wrapping_add(*off as u64),
            None => {
                return Step::Fail(format!(
                    "the CFA depends on {} which is not known",
                    r.name()
                ))
            }
        },
        Cfa::Expr(bytes) => match eval_cfa_expr(cx, bytes, &st.regs) {
            Some(v) => v,
            None => return Step::Fail("the CFA expression cannot be evaluated".into()),
        },
    };
    st.cfa = Some(cfa);
    let mut next = Regs::default();
    for &(reg, rule) in &row.rules {
        let v = match rule {
            Rule::Undefined | Rule::Unsupported => None,
            Rule::SameValue => st.regs.get(reg),
            Rule::AtCfa(n) => cx.k.read_u64(cfa.wrapping_add(n as u64)).ok(),
            Rule::CfaPlus(n) => Some(cfa.wrapping_add(n as u64)),
            Rule::Register(r) => st.regs.get(r),
        };
        next.set_opt(reg, v);
    }
    match next.get(Reg::Rip) {
        None => match row.rules.iter().find(|r| r.0 == Reg::Rip) {
            Some((_, Rule::Undefined)) => Step::End,
            _ => Step::Fail(format!(
                "the return address at {:#x} is unreadable",
                cfa.wrapping_sub(8)
            )),
        },
        Some(_) => Step::Next(Box::new(State {
            regs: next,
            interrupted: false,
            cfa: None,
            full: false,
            switched: false,
        })),
    }
}

fn eval_cfa_expr(cx: &Ctx<'_>, bytes: &kdebuginfo::SectionReader, regs: &Regs) -> Option<u64> {
    let expr = gimli::Expression(bytes.clone());
    let enc = gimli::Encoding {
        format: gimli::Format::Dwarf32,
        version: 4,
        address_size: 8,
    };
    let mut eval = expr.evaluation(enc);
    let mut r = eval.evaluate().ok()?;
    loop {
        r = match r {
            gimli::EvaluationResult::Complete => break,
            gimli::EvaluationResult::RequiresRegister { register, .. } => {
                let v = regs.get(Reg::from_dwarf(register.0)?)?;
                eval.resume_with_register(gimli::Value::Generic(v)).ok()?
            }
            gimli::EvaluationResult::RequiresMemory { address, .. } => {
                let v = cx.k.read_u64(address).ok()?;
                eval.resume_with_memory(gimli::Value::Generic(v)).ok()?
            }
            _ => return None,
        };
    }
    match eval.result().first()?.location {
        gimli::Location::Address { address } => Some(address),
        gimli::Location::Value { value } => value.to_u64(u64::MAX).ok(),
        _ => None,
    }
}

fn apply_orc(cx: &Ctx<'_>, e: &OrcEntry, st: &mut State) -> Step {
    match e.kind {
        OrcKind::Undefined => return Step::NotFound,
        OrcKind::EndOfStack => return Step::End,
        _ => {}
    }
    let need = |r: Reg| -> Result<u64, String> {
        st.regs
            .get(r)
            .ok_or_else(|| format!("ORC needs {} which is not known in this frame", r.name()))
    };
    let off = e.sp_offset as i64 as u64;
    let cfa = (|| -> Result<u64, String> {
        Ok(match e.sp_reg {
            orc_reg::SP => need(Reg::Rsp)?.wrapping_add(off),
            orc_reg::BP => need(Reg::Rbp)?.wrapping_add(off),
            orc_reg::SP_INDIRECT => cx.read_u64(need(Reg::Rsp)?)?.wrapping_add(off),
            orc_reg::BP_INDIRECT => cx.read_u64(need(Reg::Rbp)?.wrapping_add(off))?,
            orc_reg::R10 => need(Reg::R10)?,
            orc_reg::R13 => need(Reg::R13)?,
            orc_reg::DI => need(Reg::Rdi)?,
            orc_reg::DX => need(Reg::Rdx)?,
            other => return Err(format!("unknown ORC sp register {other}")),
        })
    })();
    let cfa = match cfa {
        Ok(c) => c,
        Err(e) => return Step::Fail(e),
    };
    st.cfa = Some(cfa);
    let mut next = Regs::default();
    let mut full = false;
    match e.kind {
        OrcKind::Call => {
            match cx.read_u64(cfa.wrapping_sub(8)) {
                Ok(ip) => next.set(Reg::Rip, ip),
                Err(e) => return Step::Fail(e),
            }
            next.set(Reg::Rsp, cfa);
        }
        OrcKind::Regs => {
            let mut b = [0u8; 21 * 8];
            if let Err(err) = cx.k.read(cfa, &mut b) {
                return Step::Fail(format!("exception frame at {cfa:#x} unreadable: {err}"));
            }
            let w: Vec<u64> = b
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .collect();
            next = Regs::from_pt_regs(&w).unwrap_or_default();
            full = true;
        }
        OrcKind::RegsPartial => {
            let mut b = [0u8; 5 * 8];
            if let Err(err) = cx.k.read(cfa, &mut b) {
                return Step::Fail(format!("interrupt frame at {cfa:#x} unreadable: {err}"));
            }
            let w = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap());
            next.set(Reg::Rip, w(0));
            next.set(Reg::Cs, w(1));
            next.set(Reg::Rflags, w(2));
            next.set(Reg::Rsp, w(3));
            next.set(Reg::Ss, w(4));
            for r in [Reg::R10, Reg::R13, Reg::Rdi, Reg::Rdx] {
                next.set_opt(r, st.regs.get(r));
            }
        }
        OrcKind::Undefined | OrcKind::EndOfStack => unreachable!(),
    }
    if e.kind != OrcKind::Regs {
        let bp = match e.bp_reg {
            orc_reg::UNDEFINED => st.regs.get(Reg::Rbp),
            orc_reg::PREV_SP => {
                cx.k.read_u64(cfa.wrapping_add(e.bp_offset as i64 as u64))
                    .ok()
            }
            orc_reg::BP => st.regs.get(Reg::Rbp).and_then(|bp| {
                cx.k.read_u64(bp.wrapping_add(e.bp_offset as i64 as u64))
                    .ok()
            }),
            _ => None,
        };
        next.set_opt(Reg::Rbp, bp);
    }
    Step::Next(Box::new(State {
        regs: next,
        interrupted: e.signal || full,
        cfa: None,
        full,
        switched: e.sp_reg != orc_reg::SP,
    }))
}

/// Without unwind information: a call through a NULL pointer (pc 0: the
/// return address is on top of the stack), an encoded pt_regs pointer in
/// rbp (odd), or a frame-pointer chain.
fn fallback(cx: &Ctx<'_>, st: &State) -> Result<State, String> {
    let pc = st.regs.get(Reg::Rip).unwrap_or(0);
    let no_info = || format!("no unwind information for pc {pc:#x}");
    // Without DWARF's CFI, registers a CPU saved where ORC has no entry
    // (the panicking CPU's crash_setup_regs inside __crash_kexec) resume
    // at the first return address above them.
    if st.full && st.interrupted && !cx.u.debug.has_dwarf() {
        if let Some(n) = resync(cx, st) {
            return Ok(n);
        }
    }
    if pc == 0 {
        let sp = st.regs.get(Reg::Rsp).ok_or_else(no_info)?;
        let ret = cx.read_u64(sp)?;
        let mut regs = st.regs;
        regs.set(Reg::Rip, ret);
        regs.set(Reg::Rsp, sp + 8);
        return Ok(State {
            regs,
            interrupted: false,
            cfa: None,
            full: false,
            switched: false,
        });
    }
    let bp = st.regs.get(Reg::Rbp).ok_or_else(no_info)?;
    if bp & 1 == 1 {
        let at = bp & !1;
        let mut b = [0u8; 21 * 8];
        cx.k.read(at, &mut b)
            .map_err(|e| format!("{}; encoded pt_regs at {at:#x} unreadable: {e}", no_info()))?;
        let w: Vec<u64> = b
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        return Ok(State {
            regs: Regs::from_pt_regs(&w).unwrap_or_default(),
            interrupted: true,
            cfa: None,
            full: true,
            switched: true,
        });
    }
    let read = |a: u64| {
        cx.read_u64(a)
            .map_err(|e| format!("{}; frame pointer chain: {e}", no_info()))
    };
    let ret = read(bp.wrapping_add(8))?;
    let prev_bp = read(bp)?;
    let mut regs = Regs::default();
    regs.set(Reg::Rip, ret);
    regs.set(Reg::Rbp, prev_bp);
    regs.set(Reg::Rsp, bp.wrapping_add(16));
    Ok(State {
        regs,
        interrupted: false,
        cfa: None,
        full: false,
        switched: true,
    })
}

/// Modules with their memory, ORC table and symbols (from the kernel
/// model); none if the module list cannot be read.
fn load_modules(k: &Kernel) -> Vec<ModuleCode> {
    let layout = || crate::OrcLayout::detect(&k.debug, &k.release);
    k.module_code()
        .unwrap_or_default()
        .into_iter()
        .map(|m| ModuleCode {
            orc: m
                .orc
                .map(|o| OrcTable::build(o.ip_table, &o.ips, &o.entries, &layout()))
                .unwrap_or_default(),
            name: m.name,
            ranges: m.ranges,
            syms: m.symbols,
        })
        .collect()
}

/// The function a GCC clone's symbol belongs to: `f.constprop.0`,
/// `f.isra.0`, `f.part.0`, `f.cold`, `f.lto_priv.0` → `f`.
pub(crate) fn clone_base(name: &str) -> &str {
    const SUFFIXES: &[&str] = &[
        "constprop",
        "isra",
        "part",
        "cold",
        "lto_priv",
        "localalias",
    ];
    match name.split_once('.') {
        Some((base, rest))
            if !base.is_empty() && SUFFIXES.contains(&rest.split('.').next().unwrap_or("")) =>
        {
            base
        }
        _ => name,
    }
}

/// The first word above a CPU's saved stack pointer that is a return
/// address into the vmlinux (the instruction before it a call, and ORC
/// describing the code there), as the caller's pc and stack pointer; the
/// other registers are kept. For a first frame only, without DWARF: what
/// `crash` does for a panic task whose saved registers do not unwind.
fn resync(cx: &Ctx<'_>, st: &State) -> Option<State> {
    const WORDS: usize = 256;
    let sp = st.regs.get(Reg::Rsp)?;
    // Page by page, up to the first page that cannot be read (the guard
    // page after the stack).
    let mut b = Vec::with_capacity(WORDS * 8);
    while b.len() < WORDS * 8 {
        let at = sp.wrapping_add(b.len() as u64);
        let n = ((0x1000 - (at & 0xfff)) as usize).min(WORDS * 8 - b.len());
        let mut page = vec![0u8; n];
        if cx.k.read(at, &mut page).is_err() {
            break;
        }
        b.extend_from_slice(&page);
    }
    b.truncate(b.len() & !7);
    let orc = cx.u.orc_table();
    let is_call_before = |ret: u64| -> bool {
        let mut c = [0u8; 7];
        if cx.k.read(ret - 7, &mut c).is_err() {
            return false;
        }
        // call rel32; call *r/m (ff /2) in its 2, 3, 6 and 7 byte forms.
        let ff2 = |i: usize| c[i] == 0xff && (c[i + 1] >> 3) & 7 == 2;
        c[2] == 0xe8 || ff2(5) || ff2(4) || ff2(1) || ff2(0)
    };
    for (i, w) in b.chunks_exact(8).enumerate() {
        let ret = u64::from_le_bytes(w.try_into().ok()?);
        let link = ret.wrapping_sub(1).wrapping_sub(cx.u.kaslr);
        if !in_vmlinux(cx.u, link) {
            continue;
        }
        let defined = orc
            .lookup(link)
            .is_some_and(|e| !matches!(e.kind, OrcKind::Undefined));
        if defined && is_call_before(ret) {
            let mut regs = st.regs;
            regs.set(Reg::Rip, ret);
            regs.set(Reg::Rsp, sp + 8 * (i as u64 + 1));
            return Some(State {
                regs,
                interrupted: false,
                cfa: None,
                full: false,
                switched: false,
            });
        }
    }
    None
}
