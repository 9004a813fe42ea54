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
    /// A bound, what was counted when the reading stopped, and where.
    Limit(YamlLimit, usize, Option<usize>),
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
/// by the bounds, not by what the aliases would expand to. Nesting is bounded
/// before the parser runs ([`too_deep`]): libyaml's time grows with the
/// square of the depth of flow collections.
pub fn read_yaml(text: &str) -> Result<serde_yaml_ng::Value, YamlError> {
    if let Some(at) = too_deep(text) {
        return Err(YamlError::Limit(
            YamlLimit::Depth,
            MAX_YAML_DEPTH + 1,
            Some(at),
        ));
    }
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
                Some(Problem::Limit(l)) => {
                    let measured = match l {
                        YamlLimit::Nodes => budget.nodes.get(),
                        YamlLimit::Text => budget.text.get(),
                        YamlLimit::Depth => budget.depth.get(),
                    };
                    YamlError::Limit(l, measured, at)
                }
                Some(Problem::DuplicateKey(k)) => YamlError::DuplicateKey(k, at),
                Some(Problem::Tag) => YamlError::Tag(at),
                None => YamlError::Syntax(e),
            })
        }
    }
}

/// The byte offset where lists and mappings first nest deeper than
/// [`MAX_YAML_DEPTH`], if they do: one pass over the text, before the YAML
/// parser sees it (libyaml takes time quadratic in the depth of flow
/// collections: `[` nested 120 000 deep on one line kept it busy for over a
/// minute).
///
/// It counts only nesting it is sure of, so it refuses nothing the parser
/// would accept: flow collections (`[`, `{`) outside quoted scalars and
/// comments, and block collections by the columns of their keys and of
/// `-`/`?` entries. Text it cannot read as structure — block scalars, plain
/// scalars continued on more indented lines, quoted scalars, comments — is
/// skipped; where it undercounts (a sequence at its key's column), the
/// parser's own depth check ([`Budget::enter`]) stops the reading within a
/// few levels.
pub fn too_deep(text: &str) -> Option<usize> {
    let mut d = DepthScan::default();
    let mut off = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if let Err(at) = d.line(body.as_bytes()) {
            return Some(off + at);
        }
        off += line.len();
    }
    None
}

/// The state of [`too_deep`] between lines.
#[derive(Default)]
struct DepthScan {
    /// Columns of the open block collections, innermost last.
    blocks: Vec<usize>,
    /// Open flow collections.
    flow: usize,
    /// Inside a quoted scalar that goes on past the line: its quote.
    quote: Option<u8>,
    /// Lines indented more than this are scalar text (a block scalar's, or
    /// a plain scalar's continuation).
    text_deeper_than: Option<usize>,
}

/// Why a scan of a line stopped before its end.
enum Stop {
    /// The line ends here (a comment, a value, a block scalar).
    Line,
    /// Too deep at this offset of the line.
    Deep(usize),
}

fn blank(b: Option<&u8>) -> bool {
    matches!(b, None | Some(b' ' | b'\t'))
}

impl DepthScan {
    fn depth(&self) -> usize {
        self.blocks.len() + self.flow
    }

    fn check(&self, at: usize) -> Result<(), Stop> {
        if self.depth() > MAX_YAML_DEPTH {
            Err(Stop::Deep(at))
        } else {
            Ok(())
        }
    }

    /// One line, without its line break; `Err(offset)` where the nesting
    /// went past the bound.
    fn line(&mut self, l: &[u8]) -> Result<(), usize> {
        let mut i = 0;
        let r = if self.quote.is_some() || self.flow > 0 {
            self.resume(l)
        } else {
            while l.get(i) == Some(&b' ') {
                i += 1;
            }
            if i == l.len() || l[i] == b'#' {
                return Ok(());
            }
            if self.text_deeper_than.is_some_and(|n| i > n) {
                return Ok(());
            }
            self.text_deeper_than = None;
            if i == 0 && l[0] == b'%' {
                return Ok(()); // a directive
            }
            let mut start = i;
            if i == 0 && (l.starts_with(b"---") || l.starts_with(b"...")) && blank(l.get(3)) {
                self.blocks.clear();
                start = 3;
            }
            self.blocks.retain(|&c| c < i);
            self.node(l, start, i)
        };
        match r {
            Err(Stop::Deep(at)) => Err(at),
            _ => Ok(()),
        }
    }

    /// A line that goes on with a quoted scalar or flow collections left
    /// open by the lines before.
    fn resume(&mut self, l: &[u8]) -> Result<usize, Stop> {
        let mut i = 0;
        let mut scalar_start = true;
        if let Some(q) = self.quote {
            i = self.quoted_rest(l, q, 0)?;
            scalar_start = false;
        }
        if self.flow > 0 {
            i = self.flow_from(l, i, scalar_start)?;
        }
        self.after_node(l, i, None)
    }

    /// From where a node may start in block context, on a line indented
    /// `indent`.
    fn node(&mut self, l: &[u8], mut i: usize, indent: usize) -> Result<usize, Stop> {
        loop {
            while blank(l.get(i)) && i < l.len() {
                i += 1;
            }
            let Some(&c) = l.get(i) else {
                return Err(Stop::Line);
            };
            match c {
                b'#' => return Err(Stop::Line),
                // A block sequence entry or complex key opens a collection
                // at its column; an explicit value (`: `) does not.
                b'-' | b'?' | b':' if blank(l.get(i + 1)) => {
                    if c != b':' {
                        self.blocks.push(i);
                        self.check(i)?;
                    }
                    i += 1;
                }
                // An anchor or a tag before the node.
                b'&' | b'!' => {
                    while !blank(l.get(i)) {
                        i += 1;
                    }
                }
                b'[' | b'{' => {
                    let end = self.flow_from(l, i, true)?;
                    return self.after_node(l, end, Some(i));
                }
                b'"' | b'\'' => {
                    self.quote = Some(c);
                    let end = self.quoted_rest(l, c, i + 1)?;
                    return self.after_node(l, end, Some(i));
                }
                b'|' | b'>' => {
                    self.text_deeper_than = Some(indent);
                    return Err(Stop::Line);
                }
                _ => {
                    // A plain scalar: a key if `: ` follows on the line,
                    // else a value whose more indented lines continue it.
                    let key = (i..l.len()).find(|&k| {
                        (l[k] == b':' && blank(l.get(k + 1)))
                            || (l[k] == b'#' && k > i && blank(l.get(k - 1)))
                    });
                    match key {
                        Some(k) if l[k] == b':' => {
                            self.blocks.push(i);
                            self.check(i)?;
                            i = k + 1;
                        }
                        _ => {
                            self.text_deeper_than = Some(indent);
                            return Err(Stop::Line);
                        }
                    }
                }
            }
        }
    }

    /// After a flow collection or a quoted scalar that ended at `i` on this
    /// line: a `: ` makes it a key of a block mapping (at `start`, when it
    /// began on this line), and a node follows.
    fn after_node(&mut self, l: &[u8], mut i: usize, start: Option<usize>) -> Result<usize, Stop> {
        while blank(l.get(i)) && i < l.len() {
            i += 1;
        }
        if l.get(i) == Some(&b':') && blank(l.get(i + 1)) {
            if let Some(s) = start {
                self.blocks.push(s);
                self.check(s)?;
            }
            let indent = l.iter().take_while(|&&b| b == b' ').count();
            return self.node(l, i + 1, indent);
        }
        Err(Stop::Line)
    }

    /// The rest of a quoted scalar from `i`: the offset after its closing
    /// quote, or the end of the line with the quote still open.
    fn quoted_rest(&mut self, l: &[u8], q: u8, mut i: usize) -> Result<usize, Stop> {
        while i < l.len() {
            match l[i] {
                b'\\' if q == b'"' => i += 2,
                b'\'' if q == b'\'' && l.get(i + 1) == Some(&b'\'') => i += 2,
                c if c == q => {
                    self.quote = None;
                    return Ok(i + 1);
                }
                _ => i += 1,
            }
        }
        Err(Stop::Line)
    }

    /// Flow context from `i` (at a `[` or `{`, or inside open collections;
    /// `scalar_start`: a scalar may start at `i`):
    /// the offset after the collection that closes the outermost, or the
    /// end of the line with collections still open. In flow context a
    /// bracket is always structure (plain scalars may not hold one), a
    /// quote only where a scalar starts.
    fn flow_from(&mut self, l: &[u8], mut i: usize, mut scalar_start: bool) -> Result<usize, Stop> {
        while i < l.len() {
            let c = l[i];
            match c {
                b'[' | b'{' => {
                    self.flow += 1;
                    self.check(i)?;
                    scalar_start = true;
                }
                b']' | b'}' => {
                    self.flow = self.flow.saturating_sub(1);
                    if self.flow == 0 {
                        return Ok(i + 1);
                    }
                    scalar_start = false;
                }
                b',' | b':' | b'?' => scalar_start = true,
                b' ' | b'\t' => {}
                b'#' if i == 0 || blank(l.get(i - 1)) => return Err(Stop::Line),
                b'"' | b'\'' if scalar_start => {
                    self.quote = Some(c);
                    i = self.quoted_rest(l, c, i + 1)?;
                    // Still in flow context; `quoted_rest` closed the quote.
                    scalar_start = false;
                    continue;
                }
                _ => scalar_start = false,
            }
            i += 1;
        }
        Err(Stop::Line)
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

    /// The real depth of a YAML document (the top collection is 1).
    fn depth(v: &serde_yaml_ng::Value) -> usize {
        use serde_yaml_ng::Value as Y;
        match v {
            Y::Sequence(s) => 1 + s.iter().map(depth).max().unwrap_or(0),
            Y::Mapping(m) => {
                1 + m
                    .iter()
                    .map(|(k, v)| depth(k).max(depth(v)))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// A document nested `block` levels by indentation (mappings and
    /// sequences by turns, with anchors, tags, comments, quoted keys and
    /// text full of brackets on the way), then `flow` levels of brackets.
    fn nested(block: usize, flow: usize) -> String {
        let mut s = String::from("# [[[[ {{{{\n%YAML 1.2\n---\n");
        for i in 0..block {
            let ind = "  ".repeat(i);
            // (a plain scalar continued, a quoted one over two lines, a
            // block scalar, a comment: brackets in text)
            let (key, then) = if i % 2 == 0 {
                (format!("t{i}: "), format!("{ind}\"k{i}\": &a{i} !!seq\n"))
            } else {
                ("- ".to_string(), format!("{ind}- x\n{ind}-\n"))
            };
            let key2 = key.replace('t', "q");
            let key3 = key.replace('t', "b");
            s.push_str(&format!(
                "{ind}# [[[[[[[[[[[[[[[[[[[[\n{ind}{key}a [[[[[[[[[[[[[[[[[[ {{ it's\n{ind}  [[[[[[[[[[[[[[[[[[[[ continued\n{ind}{key2}\"[[[[[[[[[[[[[[[[[[\\\" [[[\n{ind}  [[[[[[[[[[[[[[[[[[[[\"\n{ind}{key3}|\n{ind}  [[[[[[[[[[[[[[[[[[[[[[[[\n\n{ind}  {{{{{{{{{{{{{{{{{{{{{{{{\n{then}"
            ));
        }
        let ind = "  ".repeat(block + 1);
        s.push_str(&format!(
            "{ind}{}'[[[[ it''s', \"[[[[\", x # [[[[\n{ind}{}\n",
            "[ ".repeat(flow),
            "]".repeat(flow)
        ));
        s
    }

    /// The bound before parsing never counts more than the parser finds,
    /// and finds what the parser would refuse.
    #[test]
    fn too_deep_counts_no_more_than_the_parser() {
        for block in 0..8 {
            for flow in 1..(MAX_YAML_DEPTH + 3) {
                let text = nested(block, flow);
                let v: serde_yaml_ng::Value =
                    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
                let real = depth(&v);
                let found = too_deep(&text);
                if real <= MAX_YAML_DEPTH {
                    assert_eq!(found, None, "depth {real}:\n{text}");
                } else {
                    let at = found.unwrap_or_else(|| panic!("depth {real} not found:\n{text}"));
                    assert_eq!(&text[at..at + 1], "[", "{text}");
                }
            }
        }
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
