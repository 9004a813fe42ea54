//! A bounds-checked LZO1X decompressor (the format makedumpfile's `-l`
//! writes with `lzo1x_1_compress`).
//!
//! Written from the format description (instruction encoding with a
//! "state" = number of literals the previous instruction copied). It never
//! panics and never writes past the output buffer: malformed input is an
//! error.

/// Why a stream failed to decompress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LzoError {
    /// The input ended inside an instruction.
    InputOverrun,
    /// The output would exceed the buffer.
    OutputOverrun,
    /// A match refers to data before the start of the output.
    LookBehind,
    /// The input has bytes after the end-of-stream marker.
    TrailingData,
}

impl std::fmt::Display for LzoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LzoError::InputOverrun => "LZO stream ends early",
            LzoError::OutputOverrun => "LZO stream decompresses to more than a page",
            LzoError::LookBehind => "LZO match refers before the start of the page",
            LzoError::TrailingData => "bytes after the LZO end-of-stream marker",
        })
    }
}

struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, LzoError> {
        let b = *self.src.get(self.pos).ok_or(LzoError::InputOverrun)?;
        self.pos += 1;
        Ok(b)
    }

    fn le16(&mut self) -> Result<usize, LzoError> {
        let lo = self.byte()? as usize;
        let hi = self.byte()? as usize;
        Ok(lo | (hi << 8))
    }

    /// The variable-length tail of a length: runs of zero bytes add 255 each,
    /// then a non-zero byte is added.
    fn long_len(&mut self, base: usize) -> Result<usize, LzoError> {
        let mut n = base;
        loop {
            let b = self.byte()?;
            if b == 0 {
                n = n.checked_add(255).ok_or(LzoError::OutputOverrun)?;
            } else {
                return n.checked_add(b as usize).ok_or(LzoError::OutputOverrun);
            }
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], LzoError> {
        let end = self.pos.checked_add(n).ok_or(LzoError::InputOverrun)?;
        let s = self.src.get(self.pos..end).ok_or(LzoError::InputOverrun)?;
        self.pos = end;
        Ok(s)
    }
}

struct Writer<'a> {
    dst: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn literals(&mut self, s: &[u8]) -> Result<(), LzoError> {
        let end = self
            .pos
            .checked_add(s.len())
            .ok_or(LzoError::OutputOverrun)?;
        self.dst
            .get_mut(self.pos..end)
            .ok_or(LzoError::OutputOverrun)?
            .copy_from_slice(s);
        self.pos = end;
        Ok(())
    }

    /// Copies `len` bytes from `dist` bytes back; the ranges may overlap
    /// (that is how runs are encoded), so byte by byte.
    fn copy_match(&mut self, dist: usize, len: usize) -> Result<(), LzoError> {
        let from = self.pos.checked_sub(dist).ok_or(LzoError::LookBehind)?;
        let end = self.pos.checked_add(len).ok_or(LzoError::OutputOverrun)?;
        if end > self.dst.len() {
            return Err(LzoError::OutputOverrun);
        }
        for i in 0..len {
            self.dst[self.pos + i] = self.dst[from + i];
        }
        self.pos = end;
        Ok(())
    }
}

/// Decompresses one LZO1X stream into `dst`; returns the number of bytes
/// written.
pub(crate) fn decompress(src: &[u8], dst: &mut [u8]) -> Result<usize, LzoError> {
    let mut r = Reader { src, pos: 0 };
    let mut w = Writer { dst, pos: 0 };
    // Literals copied by the previous instruction: 0, 1..=3, or 4 for "4 or
    // more".
    let mut state: usize = 0;

    // The first byte may encode a literal run directly.
    if let Some(&first) = src.first() {
        if first >= 22 {
            r.pos = 1;
            let n = first as usize - 17;
            w.literals(r.take(n)?)?;
            state = 4;
        } else if first >= 18 {
            r.pos = 1;
            let n = first as usize - 17;
            w.literals(r.take(n)?)?;
            state = n;
        }
    }

    loop {
        let inst = r.byte()? as usize;
        let (dist, len, next_state);
        if inst >= 64 {
            // M2: 1LLDDDSS (len 5..8) or 01LDDDSS (len 3..4), then H.
            let h = r.byte()? as usize;
            dist = (h << 3) + ((inst >> 2) & 7) + 1;
            len = if inst >= 128 {
                5 + ((inst >> 5) & 3)
            } else {
                3 + ((inst >> 5) & 1)
            };
            next_state = inst & 3;
        } else if inst >= 32 {
            // M3: 001LLLLL, then LE16 DDDDDDDD DDDDDDSS.
            let l = inst & 31;
            len = 2 + if l == 0 { r.long_len(31)? } else { l };
            let d = r.le16()?;
            dist = (d >> 2) + 1;
            next_state = d & 3;
        } else if inst >= 16 {
            // M4: 0001HLLL, then LE16; distance 16384 means end of stream.
            let l = inst & 7;
            len = 2 + if l == 0 { r.long_len(7)? } else { l };
            let d = r.le16()?;
            let distance = 16384 + ((inst & 8) << 11) + (d >> 2);
            if distance == 16384 {
                if r.pos != src.len() {
                    return Err(LzoError::TrailingData);
                }
                return Ok(w.pos);
            }
            dist = distance;
            next_state = d & 3;
        } else if state == 0 {
            // Long literal run: 0000LLLL.
            let n = 3 + if inst == 0 { r.long_len(15)? } else { inst };
            w.literals(r.take(n)?)?;
            state = 4;
            continue;
        } else if state < 4 {
            // M1 after 1..3 literals: 2 bytes within 1 KiB.
            let h = r.byte()? as usize;
            dist = (h << 2) + (inst >> 2) + 1;
            len = 2;
            next_state = inst & 3;
        } else {
            // M1 after 4+ literals: 3 bytes at 2..3 KiB.
            let h = r.byte()? as usize;
            dist = (h << 2) + (inst >> 2) + 2049;
            len = 3;
            next_state = inst & 3;
        }
        w.copy_match(dist, len)?;
        w.literals(r.take(next_state)?)?;
        state = next_state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudo-random bytes (xorshift32), advancing `state`.
    fn noise(state: &mut u32, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *state ^= *state << 13;
                *state ^= *state >> 17;
                *state ^= *state << 5;
                *state as u8
            })
            .collect()
    }

    fn roundtrip(data: &[u8]) {
        let c = lzokay_native::compress(data).unwrap();
        let mut out = vec![0u8; data.len()];
        let n = decompress(&c, &mut out).unwrap();
        assert_eq!(n, data.len());
        assert_eq!(out, data);
        // A too-small buffer is an error, not a panic.
        if !data.is_empty() {
            let mut small = vec![0u8; data.len() - 1];
            assert_eq!(
                decompress(&c, &mut small),
                Err(LzoError::OutputOverrun),
                "len {}",
                data.len()
            );
        }
    }

    #[test]
    fn roundtrips() {
        roundtrip(b"a");
        roundtrip(b"hello hello hello hello hello hello");
        roundtrip(&[0u8; 4096]);
        let noise = noise(&mut 0x1234_5678u32, 4096);
        roundtrip(&noise);
        let mixed: Vec<u8> = (0..65536u32)
            .map(|i| {
                if (i / 300) % 3 == 0 {
                    noise[(i % 4096) as usize]
                } else {
                    (i / 7) as u8
                }
            })
            .collect();
        roundtrip(&mixed);
        let text: Vec<u8> = b"struct task_struct *next = list_entry(p->tasks.next); "
            .iter()
            .cycle()
            .take(4096)
            .copied()
            .collect();
        roundtrip(&text);
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 99u32;
        let mut out = vec![0u8; 4096];
        for len in 0..300 {
            for _ in 0..20 {
                let src = noise(&mut x, len);
                let _ = decompress(&src, &mut out);
            }
        }
        // Truncations of a valid stream.
        let c = lzokay_native::compress(&[7u8; 4096]).unwrap();
        for n in 0..c.len() {
            assert!(decompress(&c[..n], &mut out).is_err());
        }
    }
}
