//! DWARF call frame information from the vmlinux's `.debug_frame`: an index
//! of FDEs by address (built once), and the row for one address, converted
//! into the unwinder's own rules. The compiler's CFI also says where the
//! callee-saved registers were stored, which ORC does not.

use gimli::{
    BaseAddresses, CfaRule, DebugFrame, DebugFrameOffset, RegisterRule, UnwindContext,
    UnwindSection,
};
use kdebuginfo::SectionReader;

use crate::regs::Reg;

type R = SectionReader;

/// How to recover the CFA.
#[derive(Debug, Clone)]
pub enum Cfa {
    RegOffset(Reg, i64),
    /// A DWARF expression (its bytes in `.debug_frame`) whose value is the CFA.
    Expr(SectionReader),
}

/// How to recover one register of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Undefined,
    SameValue,
    /// Saved at CFA + n.
    AtCfa(i64),
    /// The value CFA + n.
    CfaPlus(i64),
    /// The value of another register.
    Register(Reg),
    /// Something this unwinder does not evaluate (expressions).
    Unsupported,
}

#[derive(Debug, Clone)]
pub struct CfiRow {
    pub cfa: Cfa,
    /// Rules for rip, rsp and the callee-saved registers.
    pub rules: Vec<(Reg, Rule)>,
}

pub struct CfiIndex {
    data: SectionReader,
    section: DebugFrame<R>,
    /// (start, end, FDE offset), sorted by start.
    fdes: Vec<(u64, u64, usize)>,
}

impl CfiIndex {
    pub fn build(data: SectionReader) -> CfiIndex {
        let mut section = DebugFrame::from(data.clone());
        section.set_address_size(8);
        let bases = BaseAddresses::default();
        let mut fdes = Vec::new();
        let mut entries = section.entries(&bases);
        while let Ok(Some(e)) = entries.next() {
            if let gimli::CieOrFde::Fde(partial) = e {
                if let Ok(fde) = partial.parse(DebugFrame::cie_from_offset) {
                    let start = fde.initial_address();
                    if fde.len() > 0 {
                        fdes.push((start, start.wrapping_add(fde.len()), fde.offset()));
                    }
                }
            }
        }
        fdes.sort_unstable();
        CfiIndex {
            data,
            section,
            fdes,
        }
    }

    pub fn len(&self) -> usize {
        self.fdes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fdes.is_empty()
    }

    /// Whether an FDE covers `addr` (link-time).
    pub fn covers(&self, addr: u64) -> Option<usize> {
        let i = self.fdes.partition_point(|f| f.0 <= addr);
        if i == 0 {
            return None;
        }
        let (_, end, off) = self.fdes[i - 1];
        (addr < end).then_some(off)
    }

    /// The CFI row for `addr` (link-time), if an FDE covers it.
    pub fn row(&self, addr: u64, ctx: &mut UnwindContext<usize>) -> Option<CfiRow> {
        let off = self.covers(addr)?;
        let bases = BaseAddresses::default();
        let fde = self
            .section
            .fde_from_offset(&bases, DebugFrameOffset(off), DebugFrame::cie_from_offset)
            .ok()?;
        let row = fde
            .unwind_info_for_address(&self.section, &bases, ctx, addr)
            .ok()?;
        let expr = |e: &gimli::UnwindExpression<usize>| -> Option<SectionReader> {
            self.data.range(e.offset, e.offset.checked_add(e.length)?)
        };
        let cfa = match row.cfa() {
            CfaRule::RegisterAndOffset { register, offset } => {
                Cfa::RegOffset(Reg::from_dwarf(register.0)?, *offset)
            }
            CfaRule::Expression(e) => Cfa::Expr(expr(e)?),
        };
        let mut rules = Vec::with_capacity(8);
        for reg in [
            Reg::Rip,
            Reg::Rsp,
            Reg::Rbx,
            Reg::Rbp,
            Reg::R12,
            Reg::R13,
            Reg::R14,
            Reg::R15,
        ] {
            let rule = match row.register(gimli::Register(reg as u16)) {
                None => match reg {
                    Reg::Rsp => Rule::CfaPlus(0),
                    Reg::Rip => Rule::Undefined,
                    _ => Rule::SameValue,
                },
                Some(RegisterRule::Undefined) => Rule::Undefined,
                Some(RegisterRule::SameValue) => Rule::SameValue,
                Some(RegisterRule::Offset(n)) => Rule::AtCfa(n),
                Some(RegisterRule::ValOffset(n)) => Rule::CfaPlus(n),
                Some(RegisterRule::Register(r)) => match Reg::from_dwarf(r.0) {
                    Some(r) => Rule::Register(r),
                    None => Rule::Unsupported,
                },
                Some(_) => Rule::Unsupported,
            };
            rules.push((reg, rule));
        }
        Some(CfiRow { cfa, rules })
    }
}
