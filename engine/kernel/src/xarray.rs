//! The XArray (and the radix tree, which is an XArray since Linux 4.20):
//! the pid table, the page cache, IDRs.

use crate::error::{Error, Result};
use crate::object::Object;
use crate::partial::{Gap, GapKind};
use crate::Kernel;

// The entry encoding is the XArray's ABI (include/linux/xarray.h): an
// internal entry has its low two bits 10; one above 4096 is a node pointer,
// lower ones are sibling and retry markers; a set low bit is a value entry.
const INTERNAL_MASK: u64 = 3;
const INTERNAL_TAG: u64 = 2;
const MAX_INTERNAL: u64 = 4096;
/// Deeper than any 64-bit index needs (64 / XA_CHUNK_SHIFT + 1).
const MAX_DEPTH: u32 = 12;
const MAX_ENTRIES: usize = crate::object::MAX_LIST;

/// Pointer entries of an XArray, with the nodes that could not be read.
#[derive(Debug, Default)]
pub struct XarrayWalk {
    /// (index, entry) for every pointer entry, in index order.
    pub entries: Vec<(u64, u64)>,
    pub gaps: Vec<Gap>,
}

impl Kernel {
    /// Every pointer entry of `xa` (a `struct xarray` or, before 4.20's
    /// rename, none: older radix trees are not supported). Unreadable nodes
    /// are gaps; value and internal entries are skipped.
    pub fn xarray_entries(&self, xa: &Object<'_>) -> Result<XarrayWalk> {
        if !xa.has_member("xa_head") {
            return Err(Error::Unsupported(format!(
                "{} is not an XArray on {} (radix trees before Linux 4.20 are not supported)",
                xa.type_name(),
                self.release
            )));
        }
        let head = xa.member("xa_head")?.as_u64()?;
        let node_ty = self.find_type("struct xa_node")?;
        let sample = Object::new(self, 0, node_ty);
        let shift_off = sample.member("shift")?.addr;
        let slots = sample.member("slots")?;
        let nslots = match slots.resolved()?.kind {
            kdebuginfo::TypeKind::Array { count: Some(c), .. } if (1..=1024).contains(&c) => c,
            _ => return Err(Error::Type("xa_node.slots is not a sized array".into())),
        };
        let layout = NodeLayout {
            shift_off,
            slots_off: slots.addr,
            nslots,
        };
        let mut w = XarrayWalk::default();
        self.xa_visit(head, 0, None, 0, &layout, &mut w);
        Ok(w)
    }

    fn xa_visit(
        &self,
        entry: u64,
        index: u64,
        parent_shift: Option<u64>,
        depth: u32,
        l: &NodeLayout,
        w: &mut XarrayWalk,
    ) {
        if entry == 0 || entry & 1 == 1 || w.entries.len() >= MAX_ENTRIES {
            return;
        }
        if entry & INTERNAL_MASK != INTERNAL_TAG {
            w.entries.push((index, entry));
            return;
        }
        if entry <= MAX_INTERNAL {
            return;
        }
        let node = entry - INTERNAL_TAG;
        let bad = |reason: String| Error::BadList { head: node, reason };
        let mut b = [0u8; 1];
        if let Err(e) = self.read(node + l.shift_off, &mut b) {
            return w.gaps.push(Gap::new(GapKind::IndexNode, node, None, &e));
        }
        let shift = b[0] as u64;
        if depth >= MAX_DEPTH || shift >= 64 || parent_shift.is_some_and(|p| shift >= p) {
            let e = bad(format!(
                "node shift {shift} at depth {depth} is not below its parent's"
            ));
            return w.gaps.push(Gap::new(GapKind::IndexNode, node, None, &e));
        }
        let mut slots = vec![0u8; l.nslots as usize * 8];
        if let Err(e) = self.read(node + l.slots_off, &mut slots) {
            return w.gaps.push(Gap::new(GapKind::IndexNode, node, None, &e));
        }
        for (i, s) in slots.chunks_exact(8).enumerate() {
            let child = u64::from_le_bytes(s.try_into().unwrap_or_default());
            let idx = index | ((i as u64) << shift);
            self.xa_visit(child, idx, Some(shift), depth + 1, l, w);
        }
    }
}

struct NodeLayout {
    shift_off: u64,
    slots_off: u64,
    nslots: u64,
}
