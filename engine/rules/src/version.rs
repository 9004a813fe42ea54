//! Kernel versions as rules compare them: a release string's leading
//! numbers, their order, and the `kernels:` ranges of a rule file. The
//! language's `version` values, the operators on them and a rule's kernel
//! range all read versions here.

/// A kernel version constraint (`>= 5.10`).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionReq {
    pub op: &'static str,
    pub version: Vec<u64>,
}

/// A kernel version from a release string: the leading numbers (`6.1.0-56-cloud-amd64` → [6, 1, 0]).
pub fn parse_version(s: &str) -> Option<Vec<u64>> {
    let head: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: Vec<u64> = head
        .split('.')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    (!v.is_empty()).then_some(v)
}

pub fn cmp_versions(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

pub fn parse_version_reqs(s: &str) -> Result<Vec<VersionReq>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        let (op, rest) = [">=", "<=", "==", ">", "<"]
            .iter()
            .find_map(|op| p.strip_prefix(op).map(|r| (*op, r)))
            .ok_or_else(|| format!("`{p}` has no comparison: write e.g. `>= 5.10` or `< 6.13`"))?;
        let v = parse_version(rest)
            .filter(|_| rest.trim().chars().all(|c| c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!(
                    "`{}` is not a kernel version (expected numbers like 5.10 or 6.1.12)",
                    rest.trim()
                )
            })?;
        out.push(VersionReq { op, version: v });
    }
    if out.is_empty() {
        return Err("empty version range".into());
    }
    Ok(out)
}

pub fn version_matches(reqs: &[VersionReq], release: &str) -> bool {
    let Some(v) = parse_version(release) else {
        return true;
    };
    reqs.iter().all(|r| {
        let o = cmp_versions(&v, &r.version);
        match r.op {
            ">=" => o.is_ge(),
            "<=" => o.is_le(),
            ">" => o.is_gt(),
            "<" => o.is_lt(),
            _ => o.is_eq(),
        }
    })
}
