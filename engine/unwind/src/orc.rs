//! ORC unwind tables: decoding the 6-byte entries of every known layout into
//! one normalised form, and looking up the entry that covers an address.
//!
//! The `flags` half-word of `struct orc_entry` changed twice: up to 6.2 it is
//! `sp_reg:4 bp_reg:4 type:2 end:1` (CALL=0, REGS=1, REGS_PARTIAL=2), 6.3
//! added `signal:1` before `end`, and 6.4 dropped `end` for a 3-bit `type`
//! (UNDEFINED=0, END_OF_STACK=1, CALL=2, REGS=3, REGS_PARTIAL=4) followed by
//! `signal`. The layout is read from the vmlinux's own DWARF description of
//! `struct orc_entry` when possible (bit positions by member name), else
//! inferred from the `.orc_header` section (present from 6.4 on).

use kdebuginfo::KernelDebugInfo;

/// Registers an ORC entry can name as the base of the CFA or of the saved rbp
/// (the kernel's `ORC_REG_*` numbering, stable from 4.14 to 6.12).
pub mod reg {
    pub const UNDEFINED: u8 = 0;
    pub const PREV_SP: u8 = 1;
    pub const DX: u8 = 2;
    pub const DI: u8 = 3;
    pub const BP: u8 = 4;
    pub const SP: u8 = 5;
    pub const R10: u8 = 6;
    pub const R13: u8 = 7;
    pub const BP_INDIRECT: u8 = 8;
    pub const SP_INDIRECT: u8 = 9;
}

/// What an entry says about the frame at its addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcKind {
    /// No unwind information (a gap, or code objtool could not follow).
    Undefined,
    /// The outermost frame of a stack.
    EndOfStack,
    /// A normal function frame: the return address is at CFA - 8.
    Call,
    /// A full `struct pt_regs` starts at the CFA.
    Regs,
    /// Only the hardware IRET frame (ip, cs, flags, sp, ss) starts at the CFA.
    RegsPartial,
}

/// One normalised ORC entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcEntry {
    pub sp_offset: i16,
    pub bp_offset: i16,
    pub sp_reg: u8,
    pub bp_reg: u8,
    pub kind: OrcKind,
    /// The next frame's pc is exact (an interrupted instruction), not a
    /// return address.
    pub signal: bool,
}

/// Bit positions of the fields inside `flags` (bit 0 = least significant
/// bit of the little-endian half-word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcLayout {
    pub sp_reg: (u8, u8),
    pub bp_reg: (u8, u8),
    pub kind: (u8, u8),
    pub signal: Option<u8>,
    pub end: Option<u8>,
}

impl OrcLayout {
    /// Up to 6.2: `sp_reg:4 bp_reg:4 type:2 end:1`.
    pub const V6_2: OrcLayout = OrcLayout {
        sp_reg: (0, 4),
        bp_reg: (4, 4),
        kind: (8, 2),
        signal: None,
        end: Some(10),
    };
    /// 6.3: `sp_reg:4 bp_reg:4 type:2 signal:1 end:1`.
    pub const V6_3: OrcLayout = OrcLayout {
        sp_reg: (0, 4),
        bp_reg: (4, 4),
        kind: (8, 2),
        signal: Some(10),
        end: Some(11),
    };
    /// 6.4 and later: `sp_reg:4 bp_reg:4 type:3 signal:1`.
    pub const V6_4: OrcLayout = OrcLayout {
        sp_reg: (0, 4),
        bp_reg: (4, 4),
        kind: (8, 3),
        signal: Some(11),
        end: None,
    };

    /// The layout described by the vmlinux: from the DWARF type of
    /// `struct orc_entry` when it has the expected members, else from the
    /// presence of `.orc_header` (6.4+) and the release (6.3).
    pub fn detect(debug: &KernelDebugInfo, release: &str) -> OrcLayout {
        if let Some(l) = Self::from_dwarf(debug) {
            return l;
        }
        if debug.section(".orc_header").is_some() {
            return Self::V6_4;
        }
        let mut nums = release.split(|c: char| !c.is_ascii_digit());
        let major: u32 = nums.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let minor: u32 = nums.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if (major, minor) == (6, 3) {
            Self::V6_3
        } else if (major, minor) >= (6, 4) {
            Self::V6_4
        } else {
            Self::V6_2
        }
    }

    fn from_dwarf(debug: &KernelDebugInfo) -> Option<OrcLayout> {
        let ty = debug.find_type("struct orc_entry").ok()?;
        let flags_at = debug.member_path(ty, "sp_offset").ok()?.offset + 4;
        let field = |name: &str| -> Option<(u8, u8)> {
            let m = debug.member_path(ty, name).ok()?;
            let pos = m.offset.checked_sub(flags_at)? * 8 + m.bit_offset?;
            let width = m.bit_size?;
            (pos + width <= 16).then_some((pos as u8, width as u8))
        };
        let l = OrcLayout {
            sp_reg: field("sp_reg")?,
            bp_reg: field("bp_reg")?,
            kind: field("type")?,
            signal: field("signal").map(|f| f.0),
            end: field("end").map(|f| f.0),
        };
        // Only 1-bit flags and a type of 2 or 3 bits are understood.
        (l.kind.1 == 2 || l.kind.1 == 3).then_some(l)
    }

    /// Decodes one raw 6-byte entry.
    pub fn decode(&self, raw: &[u8; 6]) -> OrcEntry {
        let sp_offset = i16::from_le_bytes([raw[0], raw[1]]);
        let bp_offset = i16::from_le_bytes([raw[2], raw[3]]);
        let flags = u16::from_le_bytes([raw[4], raw[5]]);
        let get = |(pos, width): (u8, u8)| ((flags >> pos) & ((1u16 << width) - 1)) as u8;
        let bit = |pos: Option<u8>| pos.is_some_and(|p| flags & (1 << p) != 0);
        let sp_reg = get(self.sp_reg);
        let bp_reg = get(self.bp_reg);
        let t = get(self.kind);
        let (kind, signal) = if self.end.is_some() {
            // Old numbering: no UNDEFINED/END_OF_STACK types; an undefined
            // sp_reg means "no information", or "end of stack" with `end`.
            let end = bit(self.end);
            let kind = if sp_reg == reg::UNDEFINED {
                if end {
                    OrcKind::EndOfStack
                } else {
                    OrcKind::Undefined
                }
            } else {
                match t {
                    0 => OrcKind::Call,
                    1 => OrcKind::Regs,
                    2 => OrcKind::RegsPartial,
                    _ => OrcKind::Undefined,
                }
            };
            // Without a signal bit, pt_regs frames imply an interrupted pc.
            let signal = match self.signal {
                Some(_) => bit(self.signal),
                None => matches!(kind, OrcKind::Regs | OrcKind::RegsPartial),
            };
            (kind, signal)
        } else {
            let kind = match t {
                0 => OrcKind::Undefined,
                1 => OrcKind::EndOfStack,
                2 => OrcKind::Call,
                3 => OrcKind::Regs,
                4 => OrcKind::RegsPartial,
                _ => OrcKind::Undefined,
            };
            let signal = match self.signal {
                Some(_) => bit(self.signal),
                None => matches!(kind, OrcKind::Regs | OrcKind::RegsPartial),
            };
            (kind, signal)
        };
        OrcEntry {
            sp_offset,
            bp_offset,
            sp_reg,
            bp_reg,
            kind,
            signal,
        }
    }
}

/// A sorted ORC table: absolute addresses and their raw entries, decoded
/// when looked up (a vmlinux has ~400k of them; a stack needs a dozen).
#[derive(Debug, Default)]
pub struct OrcTable {
    ips: Vec<u64>,
    raw: Vec<[u8; 6]>,
    layout: Option<OrcLayout>,
}

impl OrcTable {
    /// Builds a table from `.orc_unwind_ip` (s32 offsets, each relative to
    /// its own slot's address; the section starts at `ip_base`) and
    /// `.orc_unwind` (6-byte entries). Sorts if needed.
    pub fn build(ip_base: u64, ip_data: &[u8], entry_data: &[u8], layout: &OrcLayout) -> OrcTable {
        let n = (ip_data.len() / 4).min(entry_data.len() / 6);
        let ip_at = |i: usize| {
            let off = i32::from_le_bytes(ip_data[4 * i..4 * i + 4].try_into().unwrap());
            ip_base
                .wrapping_add(4 * i as u64)
                .wrapping_add(off as i64 as u64)
        };
        let raw_at = |i: usize| -> [u8; 6] { entry_data[6 * i..6 * i + 6].try_into().unwrap() };
        let mut order: Vec<usize> = (0..n).collect();
        // The kernel's build sorts the table; a module's may not be.
        if !(1..n).all(|i| ip_at(i - 1) <= ip_at(i)) {
            order.sort_by_key(|&i| ip_at(i));
        }
        // Entries sharing an address (a terminator at the end of one object
        // and the first entry of the next): keep the real one, the last.
        let mut ips = Vec::with_capacity(n);
        let mut raw: Vec<[u8; 6]> = Vec::with_capacity(n);
        for i in order {
            let (ip, r) = (ip_at(i), raw_at(i));
            if ips.last() == Some(&ip) {
                let last = raw.last_mut().unwrap();
                if layout.decode(last).kind == OrcKind::Undefined
                    || layout.decode(&r).kind != OrcKind::Undefined
                {
                    *last = r;
                }
                continue;
            }
            ips.push(ip);
            raw.push(r);
        }
        OrcTable {
            ips,
            raw,
            layout: Some(*layout),
        }
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// The entry covering `addr`: the last one at or below it.
    pub fn lookup(&self, addr: u64) -> Option<OrcEntry> {
        let i = self.ips.partition_point(|&ip| ip <= addr);
        if i == 0 {
            return None;
        }
        Some(self.layout?.decode(&self.raw[i - 1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(sp: i16, bp: i16, flags: u16) -> [u8; 6] {
        let mut r = [0u8; 6];
        r[0..2].copy_from_slice(&sp.to_le_bytes());
        r[2..4].copy_from_slice(&bp.to_le_bytes());
        r[4..6].copy_from_slice(&flags.to_le_bytes());
        r
    }

    #[test]
    fn decode_up_to_6_2() {
        let l = OrcLayout::V6_2;
        // sp_reg=SP(5), bp_reg=PREV_SP(1), type=CALL(0)
        let e = l.decode(&raw(16, -16, 5 | 1 << 4));
        assert_eq!(e.kind, OrcKind::Call);
        assert_eq!(
            (e.sp_reg, e.bp_reg, e.sp_offset, e.bp_offset),
            (5, 1, 16, -16)
        );
        assert!(!e.signal);
        // type=REGS(1) implies signal
        let e = l.decode(&raw(0, 0, 5 | 1 << 8));
        assert_eq!(e.kind, OrcKind::Regs);
        assert!(e.signal);
        let e = l.decode(&raw(8, 0, 5 | 2 << 8));
        assert_eq!(e.kind, OrcKind::RegsPartial);
        // sp_reg undefined: end flag decides
        assert_eq!(l.decode(&raw(0, 0, 1 << 10)).kind, OrcKind::EndOfStack);
        assert_eq!(l.decode(&raw(0, 0, 0)).kind, OrcKind::Undefined);
    }

    #[test]
    fn decode_6_3() {
        let l = OrcLayout::V6_3;
        let e = l.decode(&raw(8, 0, 5 | 1 << 10));
        assert_eq!(e.kind, OrcKind::Call);
        assert!(e.signal);
        assert_eq!(l.decode(&raw(0, 0, 1 << 11)).kind, OrcKind::EndOfStack);
        let e = l.decode(&raw(0, 0, 5 | 1 << 8));
        assert_eq!(e.kind, OrcKind::Regs);
        assert!(!e.signal);
    }

    #[test]
    fn decode_6_4() {
        let l = OrcLayout::V6_4;
        assert_eq!(l.decode(&raw(0, 0, 0)).kind, OrcKind::Undefined);
        assert_eq!(l.decode(&raw(0, 0, 1 << 8)).kind, OrcKind::EndOfStack);
        let e = l.decode(&raw(8, 0, 5 | 2 << 8));
        assert_eq!(e.kind, OrcKind::Call);
        assert!(!e.signal);
        let e = l.decode(&raw(0, 0, 5 | 3 << 8 | 1 << 11));
        assert_eq!(e.kind, OrcKind::Regs);
        assert!(e.signal);
        let e = l.decode(&raw(0, 0, 9 | 4 << 8));
        assert_eq!(e.kind, OrcKind::RegsPartial);
        assert_eq!(e.sp_reg, reg::SP_INDIRECT);
    }

    #[test]
    fn table_lookup_relative_ips_and_sorting() {
        let l = OrcLayout::V6_4;
        let base = 0xffff_ffff_8200_0000u64;
        // Three slots pointing at 0x...1000, 0x...3000 and (out of order) 0x...2000.
        let targets = [
            0xffff_ffff_8100_1000u64,
            0xffff_ffff_8100_3000,
            0xffff_ffff_8100_2000,
        ];
        let mut ips = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let slot = base + 4 * i as u64;
            ips.extend_from_slice(&((t.wrapping_sub(slot)) as i64 as i32).to_le_bytes());
        }
        let mut ents = Vec::new();
        ents.extend_from_slice(&raw(8, 0, 5 | 2 << 8));
        ents.extend_from_slice(&raw(0, 0, 1 << 8));
        ents.extend_from_slice(&raw(16, 0, 5 | 2 << 8));
        let t = OrcTable::build(base, &ips, &ents, &l);
        assert_eq!(t.len(), 3);
        assert_eq!(t.lookup(0xffff_ffff_8100_0fff), None);
        assert_eq!(t.lookup(0xffff_ffff_8100_1000).unwrap().sp_offset, 8);
        assert_eq!(t.lookup(0xffff_ffff_8100_2abc).unwrap().sp_offset, 16);
        assert_eq!(
            t.lookup(0xffff_ffff_8100_3001).unwrap().kind,
            OrcKind::EndOfStack
        );
    }
}
