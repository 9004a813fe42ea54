//! Where things are in a rule file: top-level fields, and the mapping from an
//! offset inside an embedded expression to an offset in the YAML text.

use std::collections::HashMap;

/// One top-level field of a rule file, as written.
#[derive(Debug, Clone)]
pub struct FieldText {
    /// Byte offset of the key.
    pub key_offset: usize,
    /// The value as the parser of embedded expressions sees it, and for each
    /// of its bytes the byte offset in the file.
    pub text: String,
    pub map: Vec<usize>,
    /// Byte range of the whole value region in the file.
    pub region: (usize, usize),
}

impl FieldText {
    /// File offset of an offset into `text` (the end maps past the last byte).
    pub fn file_offset(&self, off: usize) -> usize {
        if let Some(&m) = self.map.get(off) {
            m
        } else {
            self.map.last().map(|m| m + 1).unwrap_or(self.key_offset)
        }
    }
}

/// Scans the top-level keys of a YAML mapping and extracts each value's text
/// with an exact offset map. Block scalars (`|`, `>`) become their lines with
/// the block indentation removed, joined by newlines (newlines are whitespace
/// to the expression language, so folding does not matter); quoted and plain
/// scalars on the key's line become their content.
pub fn scan_fields(src: &str) -> HashMap<String, FieldText> {
    let mut out = HashMap::new();
    let lines: Vec<(usize, &str)> = {
        let mut v = Vec::new();
        let mut off = 0;
        for l in src.split_inclusive('\n') {
            v.push((off, l.trim_end_matches(['\n', '\r'])));
            off += l.len();
        }
        v
    };
    let mut i = 0;
    while i < lines.len() {
        let (off, line) = lines[i];
        let key_end = line.find(':');
        let is_key = !line.starts_with([' ', '\t', '#', '-'])
            && key_end.is_some_and(|e| {
                e > 0
                    && line[..e]
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            });
        if !is_key {
            i += 1;
            continue;
        }
        let e = key_end.unwrap_or(0);
        let key = line[..e].to_string();
        let rest = &line[e + 1..];
        let rest_trim = rest.trim_start();
        let rest_off = off + e + 1 + (rest.len() - rest_trim.len());
        // The value region runs to the next top-level key.
        let mut j = i + 1;
        while j < lines.len() {
            let l = lines[j].1;
            if !l.is_empty() && !l.starts_with([' ', '\t', '#']) {
                break;
            }
            j += 1;
        }
        let region_end = lines.get(j).map(|l| l.0).unwrap_or(src.len());
        let mut text = String::new();
        let mut map = Vec::new();
        if rest_trim.starts_with('|') || rest_trim.starts_with('>') {
            let mut indent = None;
            for &(loff, l) in &lines[i + 1..j] {
                if l.trim().is_empty() {
                    text.push('\n');
                    map.push(loff + l.len());
                    continue;
                }
                let ind = *indent.get_or_insert_with(|| l.len() - l.trim_start().len());
                let body = l.get(ind..).unwrap_or("");
                for (bi, ch) in body.char_indices() {
                    for k in 0..ch.len_utf8() {
                        map.push(loff + ind + bi + k);
                    }
                    text.push(ch);
                }
                text.push('\n');
                map.push(loff + l.len());
            }
        } else if let Some(q) = rest_trim
            .strip_prefix('"')
            .or_else(|| rest_trim.strip_prefix('\''))
        {
            let quote = rest_trim.as_bytes()[0] as char;
            let body = q.rfind(quote).map(|p| &q[..p]).unwrap_or(q);
            for (bi, ch) in body.char_indices() {
                for k in 0..ch.len_utf8() {
                    map.push(rest_off + 1 + bi + k);
                }
                text.push(ch);
            }
        } else {
            let body = rest_trim.split(" #").next().unwrap_or("").trim_end();
            for (bi, ch) in body.char_indices() {
                for k in 0..ch.len_utf8() {
                    map.push(rest_off + bi + k);
                }
                text.push(ch);
            }
        }
        out.insert(
            key,
            FieldText {
                key_offset: off,
                text,
                map,
                region: (off, region_end),
            },
        );
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_scalar_offsets_map_into_the_file() {
        let src = "id: X\nmatch: |\n  count(tasks)\n    > 3\ntitle: t\n";
        let f = scan_fields(src);
        let m = &f["match"];
        assert_eq!(m.text, "count(tasks)\n  > 3\n");
        let off = m.text.find('>').unwrap();
        assert_eq!(&src[m.file_offset(off)..m.file_offset(off) + 1], ">");
        let t = &f["title"];
        assert_eq!(t.text, "t");
        assert_eq!(&src[t.file_offset(0)..t.file_offset(0) + 1], "t");
    }

    #[test]
    fn quoted_scalar() {
        let src = "message: \"{parent.comm} waits\"\n";
        let f = scan_fields(src);
        let m = &f["message"];
        assert_eq!(m.text, "{parent.comm} waits");
        assert_eq!(&src[m.file_offset(1)..m.file_offset(1) + 6], "parent");
    }
}
