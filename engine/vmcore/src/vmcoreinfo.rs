//! VMCOREINFO: the `KEY=VALUE` text the kernel leaves for dump tools.

use std::collections::HashMap;

/// Parsed VMCOREINFO text. Keys are kept verbatim (`SYMBOL(init_uts_ns)`,
/// `OFFSET(list_head.next)`, ...); the raw text is kept too. When a key
/// appears twice the first value wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmcoreInfo {
    raw: String,
    map: HashMap<String, String>,
}

fn parse_hex(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u64::from_str_radix(s, 16).ok()
}

fn parse_dec_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_dec_i64(s: &str) -> Option<i64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok().map(|v| v as i64),
        None => s.parse().ok(),
    }
}

impl VmcoreInfo {
    /// Parses VMCOREINFO text. Invalid UTF-8 is replaced; lines without `=`
    /// and trailing NULs are ignored.
    pub fn parse(bytes: &[u8]) -> VmcoreInfo {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let raw = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut map = HashMap::new();
        for line in raw.lines() {
            if let Some((k, v)) = line.split_once('=') {
                map.entry(k.trim().to_owned())
                    .or_insert_with(|| v.trim().to_owned());
            }
        }
        VmcoreInfo { raw, map }
    }

    /// The text as found in the dump.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The value of a key, verbatim (e.g. `get("SYMBOL(swapper_pg_dir)")`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// All keys and values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `OSRELEASE`: the kernel release (`uname -r`).
    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE")
    }

    /// `BUILD-ID` decoded from hex.
    pub fn build_id(&self) -> Option<Vec<u8>> {
        let s = self.get("BUILD-ID")?;
        if s.len() % 2 != 0 {
            return None;
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    }

    /// `PAGESIZE`.
    pub fn page_size(&self) -> Option<u64> {
        self.get("PAGESIZE").and_then(parse_dec_u64)
    }

    /// `KERNELOFFSET` (hex): the KASLR displacement of the kernel text.
    pub fn kernel_offset(&self) -> Option<u64> {
        self.get("KERNELOFFSET").and_then(parse_hex)
    }

    /// `NUMBER(phys_base)`: the physical displacement of the kernel (x86_64).
    pub fn phys_base(&self) -> Option<u64> {
        self.number("phys_base").map(|v| v as u64)
    }

    /// `NUMBER(pgtable_l5_enabled)`: whether 5-level paging is on (x86_64).
    pub fn pgtable_l5_enabled(&self) -> Option<bool> {
        self.number("pgtable_l5_enabled").map(|v| v != 0)
    }

    /// `CRASHTIME`: seconds since the epoch when the kernel crashed.
    pub fn crashtime(&self) -> Option<i64> {
        self.get("CRASHTIME").and_then(parse_dec_i64)
    }

    /// `SYMBOL(name)` (hex address).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.get(&format!("SYMBOL({name})")).and_then(parse_hex)
    }

    /// `OFFSET(struct.member)` (decimal).
    pub fn offset(&self, name: &str) -> Option<u64> {
        self.get(&format!("OFFSET({name})")).and_then(parse_dec_u64)
    }

    /// `SIZE(name)` (decimal).
    pub fn size(&self, name: &str) -> Option<u64> {
        self.get(&format!("SIZE({name})")).and_then(parse_dec_u64)
    }

    /// `LENGTH(name)` (decimal).
    pub fn length(&self, name: &str) -> Option<u64> {
        self.get(&format!("LENGTH({name})")).and_then(parse_dec_u64)
    }

    /// `NUMBER(name)` (decimal, may be negative; `0x` hex accepted).
    pub fn number(&self, name: &str) -> Option<i64> {
        self.get(&format!("NUMBER({name})")).and_then(parse_dec_i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_accessors() {
        let text = b"OSRELEASE=6.1.0-27-amd64\nBUILD-ID=0a1B\nPAGESIZE=4096\n\
SYMBOL(init_uts_ns)=ffffffff82a12340\nOFFSET(list_head.next)=0\nSIZE(page)=64\n\
LENGTH(free_area)=11\nNUMBER(phys_base)=-2130706432\nNUMBER(pgtable_l5_enabled)=0\n\
KERNELOFFSET=1c000000\nCRASHTIME=1700000000\nnonsense line\nOSRELEASE=dup\n\0\0junk";
        let v = VmcoreInfo::parse(text);
        assert_eq!(v.osrelease(), Some("6.1.0-27-amd64"));
        assert_eq!(v.build_id(), Some(vec![0x0a, 0x1b]));
        assert_eq!(v.page_size(), Some(4096));
        assert_eq!(v.symbol("init_uts_ns"), Some(0xffffffff82a12340));
        assert_eq!(v.offset("list_head.next"), Some(0));
        assert_eq!(v.size("page"), Some(64));
        assert_eq!(v.length("free_area"), Some(11));
        assert_eq!(v.number("phys_base"), Some(-2130706432));
        assert_eq!(v.phys_base(), Some((-2130706432i64) as u64));
        assert_eq!(v.pgtable_l5_enabled(), Some(false));
        assert_eq!(v.kernel_offset(), Some(0x1c000000));
        assert_eq!(v.crashtime(), Some(1_700_000_000));
        assert!(!v.raw().contains("junk"));
        assert_eq!(v.symbol("missing"), None);
        assert_eq!(VmcoreInfo::parse(b"BUILD-ID=abc").build_id(), None);
        assert_eq!(VmcoreInfo::parse(b"BUILD-ID=zz").build_id(), None);
    }
}
