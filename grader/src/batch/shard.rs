//! `batch --shard K/N`: a class split into N parts, each graded on a
//! machine of its own, and joined again by `grader merge`.
//!
//! A student's part depends on their name and N only (a fixed hash of the
//! name, modulo N): the same on every machine whatever order its folders
//! are listed in, and a student who joins or leaves the class moves nobody
//! else. So every machine can hold the whole class and still grade only
//! its own part.
//!
//! Each part writes, beside its class table, a manifest (`shard.json`)
//! saying which part it is, whom it saw in the class, whom it graded and
//! with which settings. From the manifests alone `merge` can tell a part
//! given twice, a part missing, a part cut short, a student no part
//! graded, or parts graded with different settings, and refuse.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The manifest's file name in a part's output directory.
pub const MANIFEST: &str = "shard.json";

/// The part (1-based, of `parts`) that grades the student named `name`.
pub fn part_of(name: &str, parts: usize) -> usize {
    (name_hash(name) % parts.max(1) as u64) as usize + 1
}

/// FNV-1a over the name's bytes, then a 64-bit finalizer (from
/// SplitMix64) so that names differing only in their last characters
/// (`student01`, `student02`) spread over the parts. Fixed forever: a
/// change would move students between parts graded by different versions.
fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// What one part of a sharded batch did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// This part's number, 1-based.
    pub part: usize,
    /// How many parts the class was split into.
    pub parts: usize,
    /// Every student in the class folder this part was given, graded here
    /// or not.
    pub class: Vec<String>,
    /// This part's students that were graded.
    pub graded: Vec<String>,
    /// This part's students that were not (the batch was interrupted).
    pub not_graded: Vec<String>,
    /// Graded students on whom the grader itself failed.
    pub grader_failed: Vec<String>,
    /// What was graded and how: equal in every part of one class.
    pub settings: Settings,
}

/// The settings that must be the same in every part of a class, or the
/// students of different parts would not be graded alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The exercises graded, as the class table's columns name them.
    pub exercises: Vec<String>,
    /// Runs per exercise.
    pub runs: usize,
    /// The seed of run 0.
    pub seed: u64,
    /// The mode forced on every exercise, if one was.
    pub mode: Option<String>,
    /// The most preemptions the exhaustive search tried.
    #[serde(default)]
    pub bound: Option<u32>,
    /// Each run's deadline, in seconds.
    pub timeout_secs: f64,
    /// The pause factor given, if one was.
    pub time_scale: Option<f64>,
}

impl Manifest {
    /// The manifest as written: pretty JSON, a newline at the end.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serializes");
        text.push('\n');
        text
    }

    /// Reads the manifest of the part whose output is `dir`.
    pub fn read(dir: &Path) -> Result<Manifest, String> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "{}: no {MANIFEST}: not the output of `grader batch --shard K/N` \
                     (or that batch did not finish)",
                    dir.display()
                )
            } else {
                format!("{}: {e}", path.display())
            }
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a part's manifest: {e}", path.display()))?;
        if manifest.part == 0 || manifest.part > manifest.parts {
            return Err(format!(
                "{}: part {}/{} is not a part",
                path.display(),
                manifest.part,
                manifest.parts
            ));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_students_part_depends_on_the_name_only() {
        for parts in 1..=7 {
            for name in ["alice", "bob", "carol", "Zoë", ""] {
                let k = part_of(name, parts);
                assert!((1..=parts).contains(&k));
                assert_eq!(k, part_of(name, parts), "stable");
            }
        }
        // Fixed values: a change of the hash would split a class
        // differently on machines running different versions.
        assert_eq!(
            ["alice", "bob", "carol", "dave"].map(|n| part_of(n, 4)),
            [1, 1, 2, 3]
        );
    }

    #[test]
    fn similar_names_spread_over_the_parts() {
        let mut counts = [0usize; 4];
        for i in 0..400 {
            counts[part_of(&format!("student{i:03}"), 4) - 1] += 1;
        }
        for c in counts {
            assert!((70..=130).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest {
            part: 2,
            parts: 3,
            class: vec!["alice".into(), "bob".into()],
            graded: vec!["bob".into()],
            not_graded: vec![],
            grader_failed: vec![],
            settings: Settings {
                exercises: vec!["01 sequential-bank".into()],
                runs: 10,
                seed: 7,
                mode: None,
                bound: None,
                timeout_secs: 10.0,
                time_scale: Some(0.0),
            },
        };
        fs::write(dir.path().join(MANIFEST), m.to_text()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), m);
        let missing = Manifest::read(&dir.path().join("nowhere")).unwrap_err();
        assert!(
            missing.contains("not the output of `grader batch --shard K/N`"),
            "{missing}"
        );
    }
}
