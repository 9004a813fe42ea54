//! The kernel log from the lockless printk ringbuffer (5.10 and later).

use crate::error::{Error, Result};
use crate::Kernel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub level: u8,
    pub timestamp_ns: u64,
    pub text: String,
}

const STATE_SHIFT: u32 = 62;
const ID_MASK: u64 = (1 << STATE_SHIFT) - 1;
const DESC_COMMITTED: u64 = 1;
const DESC_FINALIZED: u64 = 2;

impl Kernel {
    /// Every record still in the ring, oldest first.
    pub fn dmesg(&self) -> Result<Vec<LogRecord>> {
        if !self.has_global("prb") {
            return Err(Error::Unsupported(
                "this kernel has no lockless printk ringbuffer (`prb`): kernels before 5.10 \
                 keep the log in `log_buf`, which vmtriage does not read yet"
                    .into(),
            ));
        }
        let prb = self.global("prb")?.deref()?;
        let dr = prb.member("desc_ring")?;
        let count_bits = dr.member("count_bits")?.as_u64()?;
        if count_bits > 24 {
            return Err(Error::Type(format!(
                "printk ring has implausible count_bits {count_bits}"
            )));
        }
        let count = 1u64 << count_bits;
        let descs = dr.member("descs")?.as_u64()?;
        let infos = dr.member("infos")?.as_u64()?;
        let head = dr.member("head_id.counter")?.as_u64()? & ID_MASK;
        let tail = dr.member("tail_id.counter")?.as_u64()? & ID_MASK;
        let data_ring = prb.member("text_data_ring")?;
        let size_bits = data_ring.member("size_bits")?.as_u64()?;
        if size_bits > 32 {
            return Err(Error::Type(format!(
                "printk data ring has implausible size_bits {size_bits}"
            )));
        }
        let data_size = 1u64 << size_bits;
        let data = data_ring.member("data")?.as_u64()?;
        let desc_ty = self.find_type("struct prb_desc")?;
        let info_ty = self.find_type("struct printk_info")?;
        let desc_size = self.debug.sizeof(desc_ty)?;
        let info_size = self.debug.sizeof(info_ty)?;
        // Read the text ring whole: one read instead of one per record.
        let mut ring = vec![0u8; data_size as usize];
        self.read(data, &mut ring)?;

        let mut out = Vec::new();
        let mut id = tail;
        for _ in 0..=count {
            let idx = id % count;
            let desc = crate::Object::new(self, descs + idx * desc_size, desc_ty);
            let sv = desc.member("state_var.counter")?.as_u64()?;
            let state = sv >> STATE_SHIFT;
            if sv & ID_MASK == id && (state == DESC_COMMITTED || state == DESC_FINALIZED) {
                let info = crate::Object::new(self, infos + idx * info_size, info_ty);
                let text_len = info.member("text_len")?.as_u64()?;
                let begin = desc.member("text_blk_lpos.begin")?.as_u64()?;
                let next = desc.member("text_blk_lpos.next")?.as_u64()?;
                let text = if begin & 1 != 0 || next & 1 != 0 {
                    String::new() // a data-less record
                } else {
                    let mut off = begin % data_size;
                    if begin / data_size != next / data_size {
                        off = 0; // the block wrapped: its data is at the ring's start
                    }
                    let start = (off + 8) as usize;
                    let end = (start + text_len as usize).min(ring.len());
                    String::from_utf8_lossy(&ring[start.min(end)..end]).into_owned()
                };
                out.push(LogRecord {
                    seq: info.member("seq")?.as_u64()?,
                    level: info.member("level")?.as_u64()? as u8,
                    timestamp_ns: info.member("ts_nsec")?.as_u64()?,
                    text,
                });
            }
            if id == head {
                break;
            }
            id = (id + 1) & ID_MASK;
        }
        Ok(out)
    }

    /// The panic message ("Kernel panic - not syncing: …"), if the log has one.
    pub fn panic_message(&self) -> Result<Option<String>> {
        Ok(panic_message(&self.dmesg()?))
    }
}

/// The last panic message of a log ("Kernel panic - not syncing: …"), if
/// it has one: a dump's ring buffer or a log read from a file.
pub fn panic_message(log: &[LogRecord]) -> Option<String> {
    log.iter().rev().find_map(|r| {
        r.text
            .strip_prefix("Kernel panic - not syncing: ")
            .map(|s| s.trim_end().to_string())
    })
}
