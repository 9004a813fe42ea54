//! The plan of a bulk scan: what each file needs from what the store knows
//! (nothing, some rules, all of them), the hashing of new or changed files,
//! and one job per distinct content.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;

use super::discover::Candidate;
use super::store::Known;
use super::{mtime_ns, sha256_file};

/// One file of the run.
pub struct Item {
    pub path: String,
    pub size: i64,
    pub mtime: i64,
    pub sha: Option<String>,
    /// Rules to run (None: nothing to do; Some(None): all).
    pub need: Option<Option<Vec<String>>>,
    /// A full rescan replaces every stored row of the file.
    pub full: bool,
    /// A problem before any scan (unreadable file): (stage, cause).
    pub pre_error: Option<(String, String)>,
}

/// Work for one distinct content: the files that hold it and the rules to
/// run (None: all).
pub struct Job {
    pub members: Vec<usize>,
    pub rules: Option<Vec<String>>,
}

pub struct Plan {
    pub items: Vec<Item>,
    /// Items to hash: new to the store, or changed.
    pub to_hash: Vec<usize>,
    /// Per path, the stored rules no longer in the pack.
    pub forget: Vec<(String, Vec<String>)>,
}

/// What each file needs. Without a store (`known` None) every file runs
/// every rule and nothing is hashed.
pub fn needs(
    files: &[Candidate],
    known: Option<&BTreeMap<String, Known>>,
    versions: &BTreeMap<String, String>,
    retry_errors: bool,
) -> Plan {
    let mut plan = Plan {
        items: Vec::new(),
        to_hash: Vec::new(),
        forget: Vec::new(),
    };
    for c in files {
        let path = c.path.to_string_lossy().into_owned();
        let md = std::fs::metadata(&c.path);
        let (size, mtime) = md
            .as_ref()
            .map(|m| (m.len() as i64, mtime_ns(m)))
            .unwrap_or((-1, 0));
        let mut it = Item {
            path: path.clone(),
            size,
            mtime,
            sha: None,
            need: Some(None),
            full: true,
            pre_error: md
                .as_ref()
                .err()
                .map(|e| ("open".into(), format!("cannot read {path}: {e}"))),
        };
        if let (Some(known), None) = (known, &it.pre_error) {
            match known.get(&path) {
                Some(k) if k.size == size && k.mtime_ns == mtime && k.sha256.is_some() => {
                    let gone = need_of_known(&mut it, k, versions, retry_errors);
                    if !gone.is_empty() {
                        plan.forget.push((path, gone));
                    }
                }
                _ => plan.to_hash.push(plan.items.len()),
            }
        }
        plan.items.push(it);
    }
    plan
}

/// The need of a file the store knows unchanged: the rules whose version
/// differs (none, some, or all: a full rescan), or a retry of a failure.
/// Returns the stored rules that are no longer in the pack.
fn need_of_known(
    it: &mut Item,
    k: &Known,
    versions: &BTreeMap<String, String>,
    retry_errors: bool,
) -> Vec<String> {
    it.sha = k.sha256.clone();
    it.full = false;
    if k.status == "error" {
        it.need = if retry_errors { Some(None) } else { None };
        it.full = true;
        return Vec::new();
    }
    let need: Vec<String> = versions
        .iter()
        .filter(|(id, v)| k.rules.get(*id) != Some(*v))
        .map(|(id, _)| id.clone())
        .collect();
    it.need = if need.is_empty() {
        None
    } else if need.len() == versions.len() {
        it.full = true;
        Some(None)
    } else {
        Some(Some(need))
    };
    k.rules
        .keys()
        .filter(|id| !versions.contains_key(*id))
        .cloned()
        .collect()
}

/// Hashes the items of `to_hash` on `threads` threads (content identity:
/// copies are scanned once); an unreadable file gets its error. Returns
/// how many were hashed.
pub fn hash(
    items: &mut [Item],
    to_hash: &[usize],
    threads: usize,
    pb: &indicatif::ProgressBar,
) -> usize {
    let queue = Mutex::new(to_hash.iter().copied().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let paths: Vec<&str> = items.iter().map(|it| it.path.as_str()).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.min(to_hash.len()) {
            s.spawn(|| loop {
                let Some(i) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
                    return;
                };
                let r = sha256_file(Path::new(paths[i]));
                pb.inc(1);
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, r));
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let n = results.len();
    for (i, r) in results {
        match r {
            Ok(h) => items[i].sha = Some(h),
            Err(e) => {
                items[i].pre_error =
                    Some(("open".into(), format!("cannot read {}: {e}", items[i].path)))
            }
        }
    }
    n
}

/// One job per distinct content (per file when there is no hash), running
/// the union of its files' needs. Returns the jobs and how many files are
/// copies of another's content.
pub fn jobs(items: &[Item]) -> (Vec<Job>, usize) {
    let mut jobs: Vec<Job> = Vec::new();
    let mut copies = 0;
    let mut by_sha: HashMap<&str, usize> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        let Some(need) = &it.need else { continue };
        if it.pre_error.is_some() {
            continue;
        }
        let known = it.sha.as_deref().and_then(|h| by_sha.get(h).copied());
        let slot = match known {
            Some(j) => {
                copies += 1;
                j
            }
            None => {
                if let Some(h) = &it.sha {
                    by_sha.insert(h, jobs.len());
                }
                jobs.push(Job {
                    members: Vec::new(),
                    rules: Some(Vec::new()),
                });
                jobs.len() - 1
            }
        };
        let job = &mut jobs[slot];
        job.members.push(i);
        match (need, &mut job.rules) {
            (None, r) => *r = None,
            (Some(n), Some(r)) => {
                for x in n {
                    if !r.contains(x) {
                        r.push(x.clone());
                    }
                }
            }
            (Some(_), None) => {}
        }
    }
    (jobs, copies)
}
