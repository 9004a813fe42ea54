//! ELF notes of a crash dump: per-CPU `NT_PRSTATUS` (registers at the time
//! of the crash), QEMU's per-CPU state, and VMCOREINFO.

use crate::vmcoreinfo::VmcoreInfo;

/// Note type of `NT_PRSTATUS`.
pub const NT_PRSTATUS: u32 = 1;

/// One ELF note, borrowed from the note area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note<'a> {
    /// Owner name without the terminating NUL ("CORE", "VMCOREINFO", "QEMU").
    pub name: &'a [u8],
    pub n_type: u32,
    pub desc: &'a [u8],
}

/// Iterates over the notes in a note area (4-byte aligned, as Linux,
/// makedumpfile and QEMU write them). Stops at the first malformed note.
pub fn iter_notes(area: &[u8], big_endian: bool) -> impl Iterator<Item = Note<'_>> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let rd = |at: usize| -> Option<u32> {
            let b: [u8; 4] = area.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        let namesz = rd(pos)? as usize;
        let descsz = rd(pos + 4)? as usize;
        let n_type = rd(pos + 8)?;
        let name_at = pos.checked_add(12)?;
        let desc_at = name_at.checked_add(align4(namesz)?)?;
        let end = desc_at.checked_add(align4(descsz)?)?;
        let name = area.get(name_at..name_at.checked_add(namesz)?)?;
        let desc = area.get(desc_at..desc_at.checked_add(descsz)?)?;
        if namesz == 0 && descsz == 0 && n_type == 0 {
            // Zero padding at the end of a note segment.
            return None;
        }
        pos = end;
        let name = match name.iter().position(|&b| b == 0) {
            Some(i) => &name[..i],
            None => name,
        };
        Some(Note { name, n_type, desc })
    })
}

fn align4(n: usize) -> Option<usize> {
    Some(n.checked_add(3)? & !3)
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// x86_64 general registers as saved in `elf_prstatus.pr_reg` (the kernel's
/// `struct user_regs_struct` order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct X86_64Regs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

impl X86_64Regs {
    /// Number of registers in `pr_reg` on x86_64.
    pub const COUNT: usize = 27;

    fn from_words(w: &[u64]) -> Option<X86_64Regs> {
        let w: &[u64; 27] = w.get(..27)?.try_into().ok()?;
        Some(X86_64Regs {
            r15: w[0],
            r14: w[1],
            r13: w[2],
            r12: w[3],
            rbp: w[4],
            rbx: w[5],
            r11: w[6],
            r10: w[7],
            r9: w[8],
            r8: w[9],
            rax: w[10],
            rcx: w[11],
            rdx: w[12],
            rsi: w[13],
            rdi: w[14],
            orig_rax: w[15],
            rip: w[16],
            cs: w[17],
            eflags: w[18],
            rsp: w[19],
            ss: w[20],
            fs_base: w[21],
            gs_base: w[22],
            ds: w[23],
            es: w[24],
            fs: w[25],
            gs: w[26],
        })
    }
}

/// Offset of `pr_pid` in a 64-bit `elf_prstatus`.
const PR_PID: usize = 32;
/// Offset of `pr_reg` in a 64-bit `elf_prstatus`.
const PR_REG: usize = 112;

/// One `NT_PRSTATUS` note: the registers of one CPU at the crash. The notes
/// come in CPU order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrStatus {
    /// `pr_pid`: the pid of the task running on the CPU (0 for idle).
    pub pid: u32,
    /// `pr_cursig`.
    pub cursig: u16,
    /// `pr_reg` as raw 64-bit words (27 on x86_64, 34 on aarch64).
    pub regs: Vec<u64>,
    /// `pr_reg` by name, if the dump is x86_64.
    pub x86_64: Option<X86_64Regs>,
}

impl PrStatus {
    /// Parses a 64-bit little-endian `elf_prstatus`. `x86_64` asks for the
    /// named x86_64 registers.
    pub fn parse(desc: &[u8], x86_64: bool) -> Option<PrStatus> {
        let pid = le_u32(desc, PR_PID)?;
        let cursig = le_u16(desc, 12)?;
        // pr_reg is followed by the 4-byte pr_fpvalid (padded to 8).
        let nregs = desc.len().checked_sub(PR_REG + 4)? / 8;
        let regs: Vec<u64> = (0..nregs)
            .filter_map(|i| le_u64(desc, PR_REG + 8 * i))
            .collect();
        let named = if x86_64 {
            X86_64Regs::from_words(&regs)
        } else {
            None
        };
        Some(PrStatus {
            pid,
            cursig,
            regs,
            x86_64: named,
        })
    }
}

/// QEMU's per-CPU x86 state note ("QEMU", type 0), written by
/// `dump-guest-memory`. Holds what `elf_prstatus` lacks, notably CR3.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct QemuCpuState {
    pub version: u32,
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rsp: u64,
    pub rbp: u64,
    pub rip: u64,
    pub rflags: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    /// CR0, CR1, CR2, CR3, CR4.
    pub cr: [u64; 5],
    /// `kernel_gs_base` (MSR), if the note has it (newer QEMU).
    pub kernel_gs_base: Option<u64>,
}

impl QemuCpuState {
    /// Parses the note's descriptor (x86_64 layout).
    pub fn parse(desc: &[u8]) -> Option<QemuCpuState> {
        let version = le_u32(desc, 0)?;
        let g = |i: usize| le_u64(desc, 8 + 8 * i);
        // Segments (selector, limit, flags, pad: u32; base: u64) start after
        // 18 registers (16 general + rip + rflags): cs ds es fs gs ss ldt tr
        // gdt idt.
        const SEG: usize = 8 + 18 * 8;
        let seg_base = |i: usize| le_u64(desc, SEG + 24 * i + 16);
        const CR: usize = SEG + 10 * 24;
        let mut cr = [0u64; 5];
        for (i, c) in cr.iter_mut().enumerate() {
            *c = le_u64(desc, CR + 8 * i)?;
        }
        Some(QemuCpuState {
            version,
            rax: g(0)?,
            rbx: g(1)?,
            rcx: g(2)?,
            rdx: g(3)?,
            rsi: g(4)?,
            rdi: g(5)?,
            rsp: g(6)?,
            rbp: g(7)?,
            rip: g(16)?,
            rflags: g(17)?,
            fs_base: seg_base(3)?,
            gs_base: seg_base(4)?,
            cr,
            kernel_gs_base: le_u64(desc, CR + 40),
        })
    }

    /// CR3: the page table root of the CPU.
    pub fn cr3(&self) -> u64 {
        self.cr[3]
    }
}

/// Everything parsed from a dump's notes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Notes {
    pub prstatus: Vec<PrStatus>,
    pub qemu_cpus: Vec<QemuCpuState>,
    pub vmcoreinfo: Option<VmcoreInfo>,
}

impl Notes {
    /// Collects the notes of one note area. PRSTATUS is only understood in
    /// its 64-bit little-endian layout (`layout64`).
    pub(crate) fn add_area(&mut self, area: &[u8], big_endian: bool, layout64: bool, x86_64: bool) {
        for n in iter_notes(area, big_endian) {
            match (n.name, n.n_type) {
                (b"CORE", NT_PRSTATUS) if !big_endian && layout64 => {
                    if let Some(p) = PrStatus::parse(n.desc, x86_64) {
                        self.prstatus.push(p);
                    }
                }
                (b"QEMU", 0) if !big_endian && x86_64 => {
                    if let Some(q) = QemuCpuState::parse(n.desc) {
                        self.qemu_cpus.push(q);
                    }
                }
                (b"VMCOREINFO", _) if self.vmcoreinfo.is_none() => {
                    self.vmcoreinfo = Some(VmcoreInfo::parse(n.desc));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], t: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(name);
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn notes_and_prstatus() {
        let mut pr = vec![0u8; 336];
        pr[32..36].copy_from_slice(&42u32.to_le_bytes());
        for i in 0..27u64 {
            pr[112 + 8 * i as usize..120 + 8 * i as usize]
                .copy_from_slice(&(i + 100).to_le_bytes());
        }
        let mut area = note(b"CORE", 1, &pr);
        area.extend(note(b"VMCOREINFO", 0, b"OSRELEASE=6.1.0\nPAGESIZE=4096\n"));
        area.extend(note(b"ODD", 7, b"x"));
        area.extend([0u8; 12]);
        area.extend(note(b"CORE", 1, &pr)); // after padding: not seen
        let all: Vec<_> = iter_notes(&area, false).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].desc, b"x");
        let mut n = Notes::default();
        n.add_area(&area, false, true, true);
        assert_eq!(n.prstatus.len(), 1);
        let p = &n.prstatus[0];
        assert_eq!(p.pid, 42);
        assert_eq!(p.regs.len(), 27);
        let r = p.x86_64.unwrap();
        assert_eq!((r.r15, r.rip, r.rsp, r.gs), (100, 116, 119, 126));
        assert_eq!(n.vmcoreinfo.unwrap().osrelease(), Some("6.1.0"));
    }

    #[test]
    fn malformed_notes_stop() {
        let mut area = note(b"CORE", 1, &[1, 2, 3]);
        area[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(iter_notes(&area, false).count(), 0);
        assert_eq!(iter_notes(&area[..5], false).count(), 0);
        let mut n = Notes::default();
        n.add_area(&note(b"CORE", 1, &[0; 50]), false, true, true);
        assert!(n.prstatus.is_empty());
    }

    #[test]
    fn qemu_state() {
        let mut d = vec![0u8; 440];
        d[0..4].copy_from_slice(&1u32.to_le_bytes());
        d[4..8].copy_from_slice(&440u32.to_le_bytes());
        d[8..16].copy_from_slice(&5u64.to_le_bytes()); // rax
        d[136..144].copy_from_slice(&0xffff_ffff_8100_0000u64.to_le_bytes()); // rip
        d[392 + 24..392 + 32].copy_from_slice(&0x1234_5000u64.to_le_bytes()); // cr3
        let q = QemuCpuState::parse(&d).unwrap();
        assert_eq!(q.rax, 5);
        assert_eq!(q.rip, 0xffff_ffff_8100_0000);
        assert_eq!(q.cr3(), 0x1234_5000);
        assert_eq!(q.kernel_gs_base, Some(0));
        assert!(QemuCpuState::parse(&d[..300]).is_none());
    }
}
