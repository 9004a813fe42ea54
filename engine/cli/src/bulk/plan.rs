//! The plan of a bulk scan: what each file needs from what the store knows
//! (nothing, some rules, all of them), the hashing of new or changed files,
//! and one job per distinct content.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;

use super::discover::{path_key, Candidate};
use super::store::Known;
use super::{mtime_ns, sha256_file};

/// One file of the run.
pub struct Item {
    /// The dump's key: its path as the store and the reports name it
    /// ([`path_key`]: lossless, escaped where it is not UTF-8).
    pub path: String,
    /// The file itself.
    pub file: PathBuf,
    pub size: i64,
    pub mtime: i64,
    pub sha: Option<String>,
    /// Rules to run (None: nothing to do; Some(None): all).
    pub need: Option<Option<Vec<String>>>,
    /// A full rescan replaces every stored row of the file.
    pub full: bool,
    /// A problem before any scan (unreadable file): (stage, cause).
    pub pre_error: Option<(String, String)>,
    /// The keys of the logs kept as this dump's evidence.
    pub evidence: Vec<String>,
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
        let path = path_key(&c.path);
        let md = std::fs::metadata(&c.path);
        let (size, mtime) = md
            .as_ref()
            .map(|m| (m.len() as i64, mtime_ns(m)))
            .unwrap_or((-1, 0));
        let mut it = Item {
            path: path.clone(),
            file: c.path.clone(),
            size,
            mtime,
            sha: None,
            need: Some(None),
            full: true,
            pre_error: md
                .as_ref()
                .err()
                .map(|e| ("open".into(), format!("cannot read {path}: {e}"))),
            evidence: c.evidence.iter().map(|p| path_key(p)).collect(),
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
    let paths: Vec<&std::path::Path> = items.iter().map(|it| it.file.as_path()).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.min(to_hash.len()) {
            s.spawn(|| loop {
                let Some(i) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
                    return;
                };
                let r = sha256_file(paths[i]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file(dir: &Path, name: &str, content: &[u8]) -> (Candidate, Known) {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let md = std::fs::metadata(&path).unwrap();
        let known = Known {
            sha256: Some(sha256_file(&path).unwrap()),
            size: md.len() as i64,
            mtime_ns: mtime_ns(&md),
            status: "ok".into(),
            rules: BTreeMap::from([
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "1".to_string()),
            ]),
        };
        let c = Candidate {
            path,
            shard_key: name.into(),
            sniff: None,
            evidence: Vec::new(),
        };
        (c, known)
    }

    fn versions(v: &[(&str, &str)]) -> BTreeMap<String, String> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_known_file_runs_the_rules_that_changed() {
        let dir = std::env::temp_dir().join(format!("vmtriage-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (same, k_same) = file(&dir, "same", b"one");
        let (changed, k_changed) = file(&dir, "changed", b"two");
        let (failed, mut k_failed) = file(&dir, "failed", b"three");
        k_failed.status = "error".into();
        let (new, _) = file(&dir, "new", b"one");
        let missing = Candidate {
            path: PathBuf::from("/nonexistent/vmtriage-plan"),
            shard_key: "missing".into(),
            sniff: None,
            evidence: Vec::new(),
        };
        let mut k_changed = k_changed;
        k_changed.rules.insert("C".into(), "1".into());
        let known = BTreeMap::from([
            (same.path.to_string_lossy().into_owned(), k_same),
            (changed.path.to_string_lossy().into_owned(), k_changed),
            (failed.path.to_string_lossy().into_owned(), k_failed),
        ]);
        let files = [same, changed, failed, new, missing];
        let v = versions(&[("A", "1"), ("B", "2")]);
        let mut plan = needs(&files, Some(&known), &v, false);
        let need: Vec<_> = plan
            .items
            .iter()
            .map(|i| (i.need.clone(), i.full))
            .collect();
        assert_eq!(
            need,
            [
                (Some(Some(vec!["B".to_string()])), false),
                (Some(Some(vec!["B".to_string()])), false),
                (None, true),
                (Some(None), true),
                (Some(None), true),
            ]
        );
        assert_eq!(plan.to_hash, [3], "only the new file is hashed");
        assert_eq!(plan.forget.len(), 1, "rule C left the pack");
        assert_eq!(plan.forget[0].1, ["C"]);
        assert!(plan.items[4].pre_error.is_some());
        // The new file has the content of `same`: one job for both, all rules.
        let pb = indicatif::ProgressBar::hidden();
        assert_eq!(hash(&mut plan.items, &plan.to_hash, 2, &pb), 1);
        let (jobs, copies) = jobs(&plan.items);
        assert_eq!(copies, 1);
        let shape: Vec<_> = jobs
            .iter()
            .map(|j| (j.members.clone(), j.rules.clone()))
            .collect();
        assert_eq!(
            shape,
            [(vec![0, 3], None), (vec![1], Some(vec!["B".to_string()]))]
        );
        // A retry of errors scans the failed file again, in full.
        let plan = needs(&files[2..3], Some(&known), &v, true);
        assert_eq!(plan.items[0].need, Some(None));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
