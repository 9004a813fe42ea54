//! An x86 `vmlinuz` (bzImage) turned back into the vmlinux ELF it carries.
//!
//! The boot protocol (the kernel's `Documentation/arch/x86/boot.rst`)
//! puts a setup header in the first sector: `setup_sects` at 0x1f1, the
//! boot flag 0xAA55 at 0x1fe, `HdrS` at 0x202, the protocol version at
//! 0x206, and (version 2.08 and later) `payload_offset` and
//! `payload_length` at 0x248 and 0x24c: where the compressed kernel lies,
//! counted from the protected-mode code, which starts after the
//! `setup_sects + 1` sectors of real-mode code. The payload is
//! `vmlinux.bin` (the vmlinux, `objcopy -S`: no symbol table, no DWARF; its
//! `.BTF`, ORC tables, kallsyms tables and build-id note kept) followed by
//! its relocations, compressed with the method the kernel was configured
//! with (`CONFIG_KERNEL_LZ4` on Debian 11 and 12), and its uncompressed size
//! appended as a little-endian u32 (`size_append`; gzip's own trailer says
//! the same).
//!
//! Decompressed here, the output bounded: LZ4 (Debian 11 and 12's cloud and
//! generic kernels; the legacy frame `lz4 -l` writes), xz (Debian 12's RT
//! kernels; with the x86 BCJ filter the kernel's `xz_wrap.sh` adds), zstd
//! (Debian 13, Ubuntu 23.10 and later, Arch, Fedora), gzip (RHEL, SUSE,
//! older kernels) and lzma. bzip2 and lzo, which no distribution kernel
//! of the last decade uses, are named in the error, which says how to
//! decompress them.

use std::io::Read;

/// At most this many bytes come out of a payload (a vmlinux.bin is 40-100
/// MiB; more is not a kernel, or a decompression bomb).
pub const MAX_VMLINUX: usize = 512 << 20;

/// How a payload is compressed, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Bzip2,
    Lzma,
    Xz,
    Lzo,
    Lz4,
    Zstd,
}

impl Compression {
    /// The method a stream starts with the magic of, if any.
    pub fn of(data: &[u8]) -> Option<Compression> {
        let m = |p: &[u8]| data.starts_with(p);
        Some(if m(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if m(&[0x02, 0x21, 0x4c, 0x18]) {
            Compression::Lz4
        } else if m(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if m(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if m(b"BZh") {
            Compression::Bzip2
        } else if m(&[0x89, b'L', b'Z', b'O']) {
            Compression::Lzo
        } else if m(&[0x5d, 0, 0]) {
            Compression::Lzma
        } else {
            return None;
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Lzma => "lzma",
            Compression::Xz => "xz",
            Compression::Lzo => "lzo",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// The parts of a bzImage this crate uses.
#[derive(Debug)]
pub struct BzImage<'a> {
    /// The boot protocol version (`0x020f` is 2.15).
    pub protocol: u16,
    /// The compressed kernel.
    pub payload: &'a [u8],
    /// Its method, when the magic is known.
    pub compression: Option<Compression>,
    /// The kernel's version string (`6.1.0-56-cloud-amd64 (debian-kernel@…) #1 SMP …`).
    pub version: Option<String>,
}

fn u16_at(d: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?))
}

/// Whether the bytes start with an x86 boot sector and setup header.
pub fn is_bzimage(data: &[u8]) -> bool {
    u16_at(data, 0x1fe) == Some(0xaa55) && data.get(0x202..0x206) == Some(b"HdrS")
}

/// Reads the setup header and finds the payload.
pub fn parse(data: &[u8]) -> Result<BzImage<'_>, String> {
    if data.len() < 0x250 {
        return Err(format!(
            "{} bytes are too few for an x86 boot sector and setup header (at least 592): \
             the file is cut short",
            data.len()
        ));
    }
    if !is_bzimage(data) {
        return Err(
            "no x86 boot sector (0xAA55 at 0x1fe) and setup header (HdrS at 0x202): \
             not a bzImage (vmlinuz)"
                .into(),
        );
    }
    let protocol = u16_at(data, 0x206).unwrap_or(0);
    if protocol < 0x0208 {
        return Err(format!(
            "boot protocol {}.{:02} predates the payload fields (2.08, Linux 2.6.26)",
            protocol >> 8,
            protocol & 0xff
        ));
    }
    let setup_sects = match data[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let pm_start = (setup_sects + 1) * 512;
    let off = u32_at(data, 0x248).unwrap_or(0) as usize;
    let len = u32_at(data, 0x24c).unwrap_or(0) as usize;
    let start = pm_start.checked_add(off);
    let end = start.and_then(|s| s.checked_add(len));
    let payload = match (start, end) {
        (Some(s), Some(e)) if len >= 8 && e <= data.len() => &data[s..e],
        _ => {
            return Err(format!(
                "the setup header puts the compressed kernel at {:#x}+{len:#x} bytes, past the \
                 end of the file ({} bytes): the file is cut short or not a bzImage",
                pm_start.saturating_add(off),
                data.len()
            ))
        }
    };
    // kernel_version: a pointer, less 0x200, to a NUL-terminated string.
    let version = u16_at(data, 0x20e)
        .filter(|&p| p != 0)
        .and_then(|p| data.get(usize::from(p) + 0x200..))
        .and_then(|s| {
            let s = &s[..s.len().min(256)];
            let end = s.iter().position(|&c| c == 0)?;
            std::str::from_utf8(&s[..end]).ok().map(str::to_string)
        });
    Ok(BzImage {
        protocol,
        payload,
        compression: Compression::of(payload),
        version,
    })
}

/// Decompresses a kernel payload (or a whole compressed file, `vmlinux.gz`)
/// into at most `limit` bytes.
pub fn decompress(payload: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let Some(method) = Compression::of(payload) else {
        return Err(format!(
            "the compressed kernel starts with {:02x?}, the magic of no compression method \
             the kernel uses",
            &payload[..payload.len().min(6)]
        ));
    };
    // The uncompressed size every method's payload ends with.
    let declared = u32_at(payload, payload.len().saturating_sub(4))
        .map(|v| v as usize)
        .unwrap_or(0);
    if declared > limit {
        return Err(format!(
            "the {} payload says it unpacks to {declared} bytes, more than the {} MiB a \
             kernel image may have: not a kernel (a decompression bomb?)",
            method.name(),
            limit >> 20
        ));
    }
    let bomb = || {
        format!(
            "the {} payload unpacks to more than {} MiB (it says {declared} bytes): not a \
             kernel (a decompression bomb?)",
            method.name(),
            limit >> 20
        )
    };
    let read_all = |r: &mut dyn Read| -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        r.take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("the {} payload is corrupt: {e}", method.name()))?;
        if out.len() > limit {
            return Err(bomb());
        }
        Ok(out)
    };
    let out = match method {
        Compression::Lz4 => lz4_legacy(payload, limit).map_err(|e| match e {
            Lz4Error::Bomb => bomb(),
            Lz4Error::Bad(m) => format!("the lz4 payload is corrupt: {m}"),
        })?,
        Compression::Gzip => read_all(&mut flate2::read::GzDecoder::new(payload))?,
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(payload)
                .map_err(|e| format!("the zstd payload is corrupt: {e}"))?
                .single_frame();
            // The kernel's zstd -22 --ultra uses windows up to 2^27.
            d.window_log_max(31).map_err(|e| format!("zstd: {e}"))?;
            read_all(&mut d)?
        }
        Compression::Xz | Compression::Lzma => {
            // The decoder's own memory bounded too (a header may ask for
            // a dictionary of 1.5 GiB; the kernel's is 32 MiB at most).
            const MEMLIMIT: u64 = 256 << 20;
            let stream = if method == Compression::Xz {
                liblzma::stream::Stream::new_stream_decoder(MEMLIMIT, 0)
            } else {
                liblzma::stream::Stream::new_lzma_decoder(MEMLIMIT)
            }
            .map_err(|e| format!("{}: {e}", method.name()))?;
            read_all(&mut liblzma::read::XzDecoder::new_stream(payload, stream))?
        }
        Compression::Bzip2 | Compression::Lzo => {
            return Err(format!(
                "the kernel is compressed with {}, which vmtriage does not decompress (it \
                 reads lz4, xz, zstd, gzip and lzma); decompress it with the kernel's \
                 scripts/extract-vmlinux and pass the vmlinux it writes",
                method.name()
            ))
        }
    };
    // gzip's trailer is its own (modulo 2^32); the others' is appended.
    if declared != 0 && out.len() != declared {
        return Err(format!(
            "the {} payload unpacked to {} bytes but says it holds {declared}: it is corrupt \
             or cut short",
            method.name(),
            out.len()
        ));
    }
    Ok(out)
}

enum Lz4Error {
    Bomb,
    Bad(String),
}

/// The LZ4 legacy frame (`lz4 -l`, the kernel's `lib/decompress_unlz4.c`):
/// the magic, then blocks, each a little-endian u32 compressed size and at
/// most 8 MiB of output; the magic may recur (concatenated streams). The
/// last 4 bytes are the kernel's appended size.
fn lz4_legacy(payload: &[u8], limit: usize) -> Result<Vec<u8>, Lz4Error> {
    const MAGIC: u32 = 0x184c_2102;
    const BLOCK_OUT: usize = 8 << 20;
    // LZ4_COMPRESSBOUND(8 MiB).
    const BLOCK_IN: usize = BLOCK_OUT + BLOCK_OUT / 255 + 16;
    let body = &payload[..payload.len().saturating_sub(4)];
    let mut pos = 4; // the magic
    let mut out: Vec<u8> = Vec::new();
    while pos + 4 <= body.len() {
        let size = u32_at(body, pos).unwrap_or(0);
        pos += 4;
        if size == MAGIC {
            continue;
        }
        let size = size as usize;
        if size > BLOCK_IN {
            return Err(Lz4Error::Bad(format!(
                "a block of {size} bytes at {:#x}, more than a block may have",
                pos - 4
            )));
        }
        let Some(block) = body.get(pos..pos + size) else {
            return Err(Lz4Error::Bad(format!(
                "the block at {:#x} runs {} bytes past the end: cut short",
                pos - 4,
                pos + size - body.len()
            )));
        };
        pos += size;
        let room = BLOCK_OUT.min(limit - out.len());
        let at = out.len();
        out.resize(at + room, 0);
        match lz4_flex::block::decompress_into(block, &mut out[at..]) {
            Ok(n) => out.truncate(at + n),
            Err(lz4_flex::block::DecompressError::OutputTooSmall { .. }) if room < BLOCK_OUT => {
                return Err(Lz4Error::Bomb)
            }
            Err(e) => {
                return Err(Lz4Error::Bad(format!(
                    "the block at {:#x}: {e}",
                    pos - size - 4
                )))
            }
        }
        if out.len() == limit && pos + 4 <= body.len() {
            return Err(Lz4Error::Bomb);
        }
    }
    if pos != body.len() {
        return Err(Lz4Error::Bad(format!(
            "{} stray bytes at the end",
            body.len() - pos
        )));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An LZ4 legacy payload of `data` as the kernel's build writes it.
    pub(crate) fn lz4_payload(data: &[u8]) -> Vec<u8> {
        let mut p = 0x184c_2102u32.to_le_bytes().to_vec();
        for chunk in data.chunks(8 << 20) {
            let c = lz4_flex::block::compress(chunk);
            p.extend_from_slice(&(c.len() as u32).to_le_bytes());
            p.extend_from_slice(&c);
        }
        p.extend_from_slice(&(data.len() as u32).to_le_bytes());
        p
    }

    /// A bzImage around a payload: boot sector, setup header (protocol
    /// 2.15), 2 setup sectors, the payload 0x40 into the protected-mode code.
    pub(crate) fn bzimage(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 3 * 512 + 0x40];
        f[0x1f1] = 2;
        f[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
        f[0x202..0x206].copy_from_slice(b"HdrS");
        f[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        f[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        f[0x300..0x310].copy_from_slice(b"6.1.0-99-test x\0");
        f[0x248..0x24c].copy_from_slice(&0x40u32.to_le_bytes());
        f[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        f.extend_from_slice(payload);
        f.extend_from_slice(&[0u8; 100]);
        f
    }

    fn sample() -> Vec<u8> {
        (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 & 0x7)
            .collect()
    }

    #[test]
    fn reads_the_setup_header_and_unpacks_each_method() {
        let data = sample();
        let f = bzimage(&lz4_payload(&data));
        let b = parse(&f).unwrap();
        assert_eq!(b.protocol, 0x020f);
        assert_eq!(b.compression, Some(Compression::Lz4));
        assert_eq!(b.version.as_deref(), Some("6.1.0-99-test x"));
        assert_eq!(decompress(b.payload, MAX_VMLINUX).unwrap(), data);
        // More than one 8 MiB block, and a repeated magic between streams.
        let big: Vec<u8> = data.iter().cycle().take(20 << 20).copied().collect();
        let mut p = lz4_payload(&big[..9 << 20]);
        p.truncate(p.len() - 4);
        let rest = lz4_payload(&big[9 << 20..]);
        p.extend_from_slice(&rest[..rest.len() - 4]);
        p.extend_from_slice(&(big.len() as u32).to_le_bytes());
        assert_eq!(decompress(&p, MAX_VMLINUX).unwrap(), big);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decompress(&gz, MAX_VMLINUX).unwrap(), data);

        let mut zs = zstd::encode_all(&data[..], 3).unwrap();
        zs.extend_from_slice(&(data.len() as u32).to_le_bytes());
        assert_eq!(decompress(&zs, MAX_VMLINUX).unwrap(), data);

        let mut xz = xz_payload(&data, true);
        xz.extend_from_slice(&(data.len() as u32).to_le_bytes());
        assert_eq!(decompress(&xz, MAX_VMLINUX).unwrap(), data);
        let mut lz = xz_payload(&data, false);
        lz.extend_from_slice(&(data.len() as u32).to_le_bytes());
        assert_eq!(decompress(&lz, MAX_VMLINUX).unwrap(), data);
    }

    /// `data` as xz (the kernel's: x86 BCJ, then LZMA2) or legacy lzma.
    fn xz_payload(data: &[u8], xz: bool) -> Vec<u8> {
        use liblzma::stream::{Check, Filters, LzmaOptions, Stream};
        let opts = LzmaOptions::new_preset(1).unwrap();
        let s = if xz {
            let mut f = Filters::new();
            f.x86();
            f.lzma2(&opts);
            Stream::new_stream_encoder(&f, Check::Crc32).unwrap()
        } else {
            Stream::new_lzma_encoder(&opts).unwrap()
        };
        let mut out = Vec::new();
        liblzma::read::XzEncoder::new_stream(data, s)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn bad_headers_are_errors() {
        let f = bzimage(&lz4_payload(&sample()));
        // Cut short: in the header, and in the payload.
        for n in [0, 100, 0x1ff, 0x24f] {
            let e = parse(&f[..n]).unwrap_err();
            assert!(e.contains("cut short"), "{n}: {e}");
        }
        let e = parse(&f[..f.len() - 200]).unwrap_err();
        assert!(e.contains("past the end"), "{e}");
        // Wrong magic.
        let mut g = f.clone();
        g[0x202] = b'X';
        assert!(parse(&g).unwrap_err().contains("not a bzImage"));
        let mut g = f.clone();
        g[0x1fe] = 0;
        assert!(parse(&g).unwrap_err().contains("not a bzImage"));
        // An old protocol.
        let mut g = f.clone();
        g[0x206..0x208].copy_from_slice(&0x0204u16.to_le_bytes());
        assert!(parse(&g).unwrap_err().contains("2.08"));
        // A payload length that wraps.
        let mut g = f.clone();
        g[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&g).is_err());
        // No panic on any cut.
        for n in (0..f.len()).step_by(97) {
            if let Ok(b) = parse(&f[..n]) {
                let _ = decompress(b.payload, MAX_VMLINUX);
            }
        }
    }

    #[test]
    fn bad_payloads_are_errors() {
        let data = sample();
        let p = lz4_payload(&data);
        // Unknown and unsupported methods.
        assert!(decompress(b"\0\0\0\0\0\0\0\0", MAX_VMLINUX)
            .unwrap_err()
            .contains("magic"));
        let e = decompress(b"BZh91AY&SY\0\0\0\0", MAX_VMLINUX).unwrap_err();
        assert!(e.contains("bzip2") && e.contains("extract-vmlinux"), "{e}");
        let e = decompress(b"\xfd7zXZ\0\0\0\0\0\0\0", MAX_VMLINUX).unwrap_err();
        assert!(e.contains("xz payload is corrupt"), "{e}");
        // Cut short, anywhere.
        for n in (8..p.len()).step_by(p.len() / 50) {
            assert!(decompress(&p[..n], MAX_VMLINUX).is_err(), "cut at {n}");
        }
        // Corrupt blocks.
        let mut q = p.clone();
        for b in q.iter_mut().skip(100).take(4000) {
            *b ^= 0x5a;
        }
        assert!(decompress(&q, MAX_VMLINUX).is_err());
        // A block size past any block.
        let mut q = p.clone();
        q[4..8].copy_from_slice(&(64u32 << 20).to_le_bytes());
        assert!(decompress(&q, MAX_VMLINUX)
            .unwrap_err()
            .contains("more than a block"));
        // The declared size wrong.
        let mut q = p.clone();
        let n = q.len();
        q[n - 4..].copy_from_slice(&(data.len() as u32 + 1).to_le_bytes());
        assert!(decompress(&q, MAX_VMLINUX)
            .unwrap_err()
            .contains("says it holds"));
    }

    #[test]
    fn output_is_bounded() {
        // 64 MiB of zeros compress to almost nothing.
        let zeros = vec![0u8; 64 << 20];
        let limit = 16 << 20;
        // Declared honestly: refused before unpacking.
        let p = lz4_payload(&zeros);
        assert!(p.len() < 1 << 20);
        assert!(decompress(&p, limit).unwrap_err().contains("bomb"));
        // Declared small: stopped at the limit.
        let mut q = p.clone();
        let n = q.len();
        q[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
        assert!(decompress(&q, limit).unwrap_err().contains("bomb"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &zeros).unwrap();
        let mut gz = gz.finish().unwrap();
        let n = gz.len();
        gz[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
        assert!(decompress(&gz, limit).unwrap_err().contains("bomb"));
        let mut zs = zstd::encode_all(&zeros[..], 1).unwrap();
        zs.extend_from_slice(&1000u32.to_le_bytes());
        assert!(decompress(&zs, limit).unwrap_err().contains("bomb"));
        let mut xz = xz_payload(&zeros, true);
        xz.extend_from_slice(&1000u32.to_le_bytes());
        assert!(decompress(&xz, limit).unwrap_err().contains("bomb"));
    }
}
