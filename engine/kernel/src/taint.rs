//! Taint: the kernel's taint mask and the letters it prints for it, read
//! from the kernel's own `taint_flags[]` table (letters were added and
//! reordered across versions; vendor kernels add their own), never a copy.

use crate::error::{Error, Result};
use crate::object::Object;
use crate::Kernel;

/// One entry of `taint_flags[]`: bit `bit` of the taint mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaintFlag {
    pub bit: u32,
    /// The letter printed when the bit is set (`O`, `E`, `P`…).
    pub letter: char,
    /// The character printed when it is clear (`G` for bit 0, else ` `).
    pub clear: char,
    /// Whether a module can carry this taint (`module` in the table).
    pub module: bool,
}

/// More bits than any kernel has: the mask is an unsigned long.
const MAX_FLAGS: u64 = 64;

fn letter(o: &Object<'_>, member: &str) -> Result<char> {
    let c = o.member(member)?.as_u64()? as u8;
    if c.is_ascii_graphic() || c == b' ' {
        Ok(c as char)
    } else {
        Err(Error::Type(format!(
            "taint_flags[].{member} is {c:#x}, not a letter: the table is corrupt"
        )))
    }
}

impl Kernel {
    /// The kernel's taint mask (as /proc/sys/kernel/tainted).
    pub fn tainted_mask(&self) -> Result<u64> {
        self.global("tainted_mask")?.as_u64()
    }

    /// The kernel's `taint_flags[]`, in bit order.
    pub fn taint_flags(&self) -> Result<Vec<TaintFlag>> {
        let table = self.global("taint_flags")?;
        let count = match table.resolved()?.kind {
            kdebuginfo::TypeKind::Array { count: Some(c), .. } => c.min(MAX_FLAGS),
            _ => {
                return Err(Error::Type(format!(
                    "taint_flags is a {}, not an array of known length",
                    table.type_name()
                )))
            }
        };
        (0..count)
            .map(|i| {
                let f = table.index(i)?;
                Ok(TaintFlag {
                    bit: i as u32,
                    letter: letter(&f, "c_true")?,
                    clear: letter(&f, "c_false")?,
                    module: f.member("module")?.as_u64()? != 0,
                })
            })
            .collect()
    }

    /// The letters of the bits set in `mask`, in bit order (as the kernel's
    /// "Tainted:" line prints them, without the clear ones). A set bit the
    /// table does not name is `?`.
    pub fn taint_letters(&self, mask: u64) -> Result<Vec<char>> {
        let flags = self.taint_flags()?;
        Ok((0..MAX_FLAGS as u32)
            .filter(|b| mask & (1u64 << b) != 0)
            .map(|b| flags.get(b as usize).map_or('?', |f| f.letter))
            .collect())
    }
}
