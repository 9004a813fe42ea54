//! x86_64 registers as the unwinder knows them: each one known or not.

/// A register, numbered as in the x86_64 DWARF ABI for 0..=16 (rax, rdx,
/// rcx, rbx, rsi, rdi, rbp, rsp, r8–r15, return address = rip), then
/// rflags, cs and ss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reg {
    Rax = 0,
    Rdx,
    Rcx,
    Rbx,
    Rsi,
    Rdi,
    Rbp,
    Rsp,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
    Rip,
    Rflags,
    Cs,
    Ss,
}

pub const NREGS: usize = 20;

impl Reg {
    pub const ALL: [Reg; NREGS] = [
        Reg::Rax,
        Reg::Rdx,
        Reg::Rcx,
        Reg::Rbx,
        Reg::Rsi,
        Reg::Rdi,
        Reg::Rbp,
        Reg::Rsp,
        Reg::R8,
        Reg::R9,
        Reg::R10,
        Reg::R11,
        Reg::R12,
        Reg::R13,
        Reg::R14,
        Reg::R15,
        Reg::Rip,
        Reg::Rflags,
        Reg::Cs,
        Reg::Ss,
    ];

    /// Callee-saved registers of the x86_64 System V ABI (besides rsp).
    pub const CALLEE_SAVED: [Reg; 6] = [Reg::Rbx, Reg::Rbp, Reg::R12, Reg::R13, Reg::R14, Reg::R15];

    /// The register of a DWARF register number (0..=16, 49 rflags, 51 cs, 52 ss).
    pub fn from_dwarf(n: u16) -> Option<Reg> {
        match n {
            0..=16 => Some(Reg::ALL[n as usize]),
            49 => Some(Reg::Rflags),
            51 => Some(Reg::Cs),
            52 => Some(Reg::Ss),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        [
            "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15", "rip", "rflags", "cs", "ss",
        ][self as usize]
    }
}

/// A register set in which each register is known or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    vals: [Option<u64>; NREGS],
}

impl Regs {
    pub fn get(&self, r: Reg) -> Option<u64> {
        self.vals[r as usize]
    }

    pub fn set(&mut self, r: Reg, v: u64) {
        self.vals[r as usize] = Some(v);
    }

    pub fn set_opt(&mut self, r: Reg, v: Option<u64>) {
        self.vals[r as usize] = v;
    }

    /// The known registers, in the order of [`Reg::ALL`].
    pub fn known(&self) -> impl Iterator<Item = (Reg, u64)> + '_ {
        Reg::ALL.iter().filter_map(|&r| self.get(r).map(|v| (r, v)))
    }

    /// From `struct pt_regs` (21 words: r15 r14 r13 r12 bp bx r11 r10 r9 r8
    /// ax cx dx si di orig_ax ip cs flags sp ss), which is also the prefix of
    /// `elf_gregset_t` in PRSTATUS notes.
    pub fn from_pt_regs(w: &[u64]) -> Option<Regs> {
        if w.len() < 21 {
            return None;
        }
        let mut r = Regs::default();
        let order = [
            Reg::R15,
            Reg::R14,
            Reg::R13,
            Reg::R12,
            Reg::Rbp,
            Reg::Rbx,
            Reg::R11,
            Reg::R10,
            Reg::R9,
            Reg::R8,
            Reg::Rax,
            Reg::Rcx,
            Reg::Rdx,
            Reg::Rsi,
            Reg::Rdi,
        ];
        for (i, reg) in order.iter().enumerate() {
            r.set(*reg, w[i]);
        }
        r.set(Reg::Rip, w[16]);
        r.set(Reg::Cs, w[17]);
        r.set(Reg::Rflags, w[18]);
        r.set(Reg::Rsp, w[19]);
        r.set(Reg::Ss, w[20]);
        Some(r)
    }

    /// Whether the registers are those of user mode (cs with RPL 3).
    pub fn user_mode(&self) -> bool {
        self.get(Reg::Cs).is_some_and(|cs| cs & 3 == 3)
    }
}
