//! Where things are in a rule file: top-level fields, and the mapping from an
//! offset inside an embedded expression to an offset in the YAML text.

use std::cell::{Cell, RefCell};
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

/// The largest rule file read (bytes); a larger one is R010 before any
/// parsing. The largest rule of the shipped pack is about 4 KiB.
pub const MAX_RULE_FILE_BYTES: usize = 256 * 1024;
/// The most YAML values (scalars, sequences, mappings) one rule file may
/// hold, counted as its aliases expand: a "billion laughs" stops here.
pub const MAX_YAML_NODES: usize = 10_000;
/// The most bytes of scalar text one rule file may hold, counted as its
/// aliases expand.
pub const MAX_YAML_TEXT: usize = MAX_RULE_FILE_BYTES;
/// How deep sequences and mappings may nest in a rule file (the format
/// itself needs 3 levels: `params: {x: {default: [..]}}`).
pub const MAX_YAML_DEPTH: usize = 16;

/// Which bound of the YAML reader a rule file exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlLimit {
    Nodes,
    Text,
    Depth,
}

/// Why a rule file could not be read as YAML: a syntax error of the YAML
/// parser (its message and position), or a problem our reader found (typed),
/// with the byte offset where the reading stopped.
#[derive(Debug)]
pub enum YamlError {
    Syntax(serde_yaml_ng::Error),
    Limit(YamlLimit, Option<usize>),
    /// A mapping has this key twice.
    DuplicateKey(String, Option<usize>),
    /// A tag (`!name`).
    Tag(Option<usize>),
}

#[derive(Debug, Clone)]
enum Problem {
    Limit(YamlLimit),
    DuplicateKey(String),
    Tag,
}

/// Reads a YAML document into a value, counting every value and every byte
/// of text as aliases expand, and refusing tags (a rule file has no use for
/// them). Each bound stops the reading at once, so the time taken is bounded
/// by the bounds, not by what the aliases would expand to.
pub fn read_yaml(text: &str) -> Result<serde_yaml_ng::Value, YamlError> {
    let budget = Budget {
        nodes: Cell::new(0),
        text: Cell::new(0),
        depth: Cell::new(0),
        hit: RefCell::new(None),
    };
    let r = serde::de::DeserializeSeed::deserialize(
        Bounded(&budget),
        serde_yaml_ng::Deserializer::from_str(text),
    );
    let hit = budget.hit.take();
    match r {
        Ok(v) => Ok(v),
        Err(e) => {
            let at = e.location().map(|l| l.index());
            Err(match hit {
                Some(Problem::Limit(l)) => YamlError::Limit(l, at),
                Some(Problem::DuplicateKey(k)) => YamlError::DuplicateKey(k, at),
                Some(Problem::Tag) => YamlError::Tag(at),
                None => YamlError::Syntax(e),
            })
        }
    }
}

struct Budget {
    nodes: Cell<usize>,
    text: Cell<usize>,
    depth: Cell<usize>,
    hit: RefCell<Option<Problem>>,
}

impl Budget {
    fn spend<E: serde::de::Error>(&self, text: usize) -> Result<(), E> {
        self.nodes.set(self.nodes.get() + 1);
        self.text.set(self.text.get().saturating_add(text));
        if self.nodes.get() > MAX_YAML_NODES {
            return self.stop(Problem::Limit(YamlLimit::Nodes));
        }
        if self.text.get() > MAX_YAML_TEXT {
            return self.stop(Problem::Limit(YamlLimit::Text));
        }
        Ok(())
    }
    /// Stops the reading; what stopped it is kept typed beside the error.
    fn stop<T, E: serde::de::Error>(&self, p: Problem) -> Result<T, E> {
        *self.hit.borrow_mut() = Some(p);
        Err(E::custom("stopped by the rule file reader"))
    }
    fn enter<E: serde::de::Error>(&self) -> Result<(), E> {
        self.depth.set(self.depth.get() + 1);
        if self.depth.get() > MAX_YAML_DEPTH {
            return self.stop(Problem::Limit(YamlLimit::Depth));
        }
        self.spend(0)
    }
}

#[derive(Clone, Copy)]
struct Bounded<'b>(&'b Budget);

impl<'de> serde::de::DeserializeSeed<'de> for Bounded<'_> {
    type Value = serde_yaml_ng::Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Bounded<'_> {
    type Value = serde_yaml_ng::Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.0.spend(0)?;
        Ok(v.into())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.0.spend(0)?;
        Ok(v.into())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.0.spend(0)?;
        Ok(v.into())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.0.spend(0)?;
        Ok(v.into())
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0.spend(v.len())?;
        Ok(v.into())
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.0.spend(v.len())?;
        Ok(v.into())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.0.spend(0)?;
        Ok(serde_yaml_ng::Value::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        self.0.enter()?;
        let mut v = Vec::new();
        while let Some(x) = a.next_element_seed(self)? {
            v.push(x);
        }
        self.0.depth.set(self.0.depth.get() - 1);
        Ok(serde_yaml_ng::Value::Sequence(v))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        self.0.enter()?;
        let mut m = serde_yaml_ng::Mapping::new();
        while let Some(k) = a.next_key_seed(self)? {
            if m.contains_key(&k) {
                let name = match &k {
                    serde_yaml_ng::Value::String(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                return self.0.stop(Problem::DuplicateKey(name));
            }
            let v = a.next_value_seed(self)?;
            m.insert(k, v);
        }
        self.0.depth.set(self.0.depth.get() - 1);
        Ok(serde_yaml_ng::Value::Mapping(m))
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.0.stop(Problem::Tag)
    }
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
