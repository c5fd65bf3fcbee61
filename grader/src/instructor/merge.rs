//! `grader merge PART... --output DIR`: one class from the outputs of a
//! batch graded in parts (`grader batch --shard K/N`).
//!
//! The parts' manifests (see [`crate::batch::shard`]) say which part each
//! output is and whom it graded. The merge refuses, saying what to do,
//! rather than write a class table that is wrong without showing it:
//! parts of different splits or settings, a part given twice, a part
//! missing or cut short, a student graded twice or by nobody, or a class
//! table that does not match its manifest. Otherwise it copies each
//! student's files from the part that graded them, and writes the class
//! table last, its rows in name order as one batch would have written
//! them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::batch::shard::{self, Manifest};
use crate::batch::table::Table;
use crate::batch::{self, CLASS_TABLE};

/// A merged class.
#[derive(Debug)]
pub struct Merged {
    /// How many parts were joined.
    pub parts: usize,
    /// How many students the class table holds.
    pub students: usize,
    /// Students on whom the grader itself failed, in any part.
    pub grader_failed: Vec<String>,
}

/// One part's output.
struct Part {
    dir: PathBuf,
    manifest: Manifest,
    table: Table,
}

impl Part {
    fn load(dir: &Path) -> Result<Part, String> {
        if !dir.is_dir() {
            return Err(format!("{}: no such directory", dir.display()));
        }
        let manifest = Manifest::read(dir)?;
        let table = Table::read(&dir.join(CLASS_TABLE))?;
        Ok(Part {
            dir: dir.to_path_buf(),
            manifest,
            table,
        })
    }

    /// "part 2/4 (grades-2)", for messages.
    fn name(&self) -> String {
        format!(
            "part {}/{} ({})",
            self.manifest.part,
            self.manifest.parts,
            self.dir.display()
        )
    }
}

/// Joins the parts in `dirs` into `output` (see the module's
/// documentation).
pub fn merge(dirs: &[PathBuf], output: &Path) -> Result<Merged, String> {
    let parts = dirs
        .iter()
        .map(|d| Part::load(d))
        .collect::<Result<Vec<_>, _>>()?;
    let output_canonical = fs::canonicalize(output).ok();
    if let Some(part) = parts
        .iter()
        .find(|p| output_canonical.is_some() && fs::canonicalize(&p.dir).ok() == output_canonical)
    {
        return Err(format!(
            "--output {} is {}: merge into a directory of its own",
            output.display(),
            part.name()
        ));
    }
    check_alike(&parts)?;
    check_complete(&parts)?;
    let graded_by = check_students(&parts)?;
    batch::check_output(output)
        .map_err(|e| format!("--output {}: cannot write there ({e})", output.display()))?;
    for (student, part) in &graded_by {
        copy_student(&part.dir.join(student), &output.join(student))?;
    }
    let mut rows: Vec<Vec<String>> = parts
        .iter()
        .flat_map(|p| p.table.rows.iter().cloned())
        .collect();
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    let table = Table {
        header: parts[0].table.header.clone(),
        rows,
    };
    batch::write_whole(&output.join(CLASS_TABLE), &table.to_csv())
        .map_err(|e| format!("{}: {e}", output.join(CLASS_TABLE).display()))?;
    let mut grader_failed: Vec<String> = parts
        .iter()
        .flat_map(|p| p.manifest.grader_failed.iter().cloned())
        .collect();
    grader_failed.sort();
    Ok(Merged {
        parts: parts.len(),
        students: graded_by.len(),
        grader_failed,
    })
}

/// Every part must come from the same split, graded with the same
/// settings into the same columns.
fn check_alike(parts: &[Part]) -> Result<(), String> {
    let first = &parts[0];
    for part in &parts[1..] {
        if part.manifest.parts != first.manifest.parts {
            return Err(format!(
                "{} and {} come from different splits of the class: give the outputs of \
                 one split (the same N in every --shard K/N)",
                first.name(),
                part.name()
            ));
        }
        let (a, b) = (
            serde_json::to_value(&first.manifest.settings).expect("settings serialize"),
            serde_json::to_value(&part.manifest.settings).expect("settings serialize"),
        );
        if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
            if let Some((key, va)) = a.iter().find(|(k, v)| b.get(*k) != Some(*v)) {
                return Err(format!(
                    "the parts were graded with different settings: {key} {va} in {}, \
                     {} in {}; grade every part with the same options (--seed, --runs, \
                     the exercises, --mode, --timeout, --time-scale)",
                    first.name(),
                    b.get(key).cloned().unwrap_or_default(),
                    part.name()
                ));
            }
        }
        if part.table.header != first.table.header {
            return Err(format!(
                "{} and {} have different class table columns",
                first.name(),
                part.name()
            ));
        }
    }
    Ok(())
}

/// Every part of the split is given once, and each was graded to its end.
fn check_complete(parts: &[Part]) -> Result<(), String> {
    let n = parts[0].manifest.parts;
    let mut seen: BTreeMap<usize, &Part> = BTreeMap::new();
    for part in parts {
        if let Some(other) = seen.insert(part.manifest.part, part) {
            return Err(format!(
                "part {}/{n} is given twice: {} and {}; give each part once",
                part.manifest.part,
                other.dir.display(),
                part.dir.display()
            ));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        let seed = parts[0].manifest.settings.seed;
        return Err(if let [one] = missing.as_slice() {
            format!(
                "part {one} is missing: grade it with `grader batch CLASS --shard {one} \
                 --seed {seed} --output DIR`, and merge again with its output too"
            )
        } else {
            format!(
                "parts {} are missing: grade each with `grader batch CLASS --shard K/{n} \
                 --seed {seed} --output DIR`, and merge again with their outputs too",
                missing.join(", ")
            )
        });
    }
    for part in parts {
        if !part.manifest.not_graded.is_empty() {
            return Err(format!(
                "{} was interrupted before grading {}: grade that part again",
                part.name(),
                part.manifest.not_graded.join(", ")
            ));
        }
    }
    Ok(())
}

/// Every student of the class is graded by exactly one part, the one
/// their name belongs to, and each part's table holds exactly the
/// students its manifest says. Returns who was graded by which part.
fn check_students(parts: &[Part]) -> Result<BTreeMap<String, &Part>, String> {
    let n = parts[0].manifest.parts;
    let mut graded_by: BTreeMap<String, &Part> = BTreeMap::new();
    for part in parts {
        for student in &part.manifest.graded {
            if !is_plain_name(student) {
                return Err(format!(
                    "{}: `{student}` is not a student's folder name",
                    part.name()
                ));
            }
            let owner = shard::part_of(student, n);
            if owner != part.manifest.part {
                return Err(format!(
                    "{}: {student} belongs to part {owner}/{n}, not to this one: \
                     was it graded by another version of the grader?",
                    part.name()
                ));
            }
            if !part.dir.join(student).is_dir() {
                return Err(format!(
                    "{}: no folder {student}/ with the student's results: that part's output \
                     is incomplete; grade it again",
                    part.name()
                ));
            }
            if let Some(other) = graded_by.insert(student.clone(), part) {
                return Err(format!(
                    "{student} was graded twice, by {} and {}",
                    other.name(),
                    part.name()
                ));
            }
        }
        let in_table: BTreeSet<&str> = part.table.rows.iter().map(|r| r[0].as_str()).collect();
        let in_manifest: BTreeSet<&str> = part.manifest.graded.iter().map(String::as_str).collect();
        if in_table != in_manifest || in_table.len() != part.table.rows.len() {
            return Err(format!(
                "{}: its {CLASS_TABLE} does not list the students its {} says it graded",
                part.name(),
                shard::MANIFEST
            ));
        }
    }
    let class: BTreeSet<&String> = parts.iter().flat_map(|p| &p.manifest.class).collect();
    let ungraded: Vec<String> = class
        .into_iter()
        .filter(|s| !graded_by.contains_key(*s))
        .map(|s| format!("{s} (part {}/{n})", shard::part_of(s, n)))
        .collect();
    if !ungraded.is_empty() {
        return Err(format!(
            "not graded by any part: {}. Their part's class folder did not hold them, \
             though another part's did: give every part the same class folder, and grade \
             those parts again",
            ungraded.join(", ")
        ));
    }
    Ok(graded_by)
}

/// A folder name as `batch` takes one: not hidden, no separator.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// Copies a student's files (each written whole) from a part's output.
fn copy_student(from: &Path, to: &Path) -> Result<(), String> {
    let entries = fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let text = fs::read_to_string(entry.path())
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        let dest = to.join(entry.file_name());
        batch::write_whole(&dest, &text).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::shard::Settings;

    const HEADER: [&str; 5] = ["student", "01 sequential-bank", "total", "max", "notes"];
    const CLASS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "frank"];

    fn settings() -> Settings {
        Settings {
            exercises: vec!["01 sequential-bank".into()],
            runs: 10,
            seed: 7,
            mode: None,
            bound: None,
            timeout_secs: 10.0,
            time_scale: None,
        }
    }

    /// Writes part `k` of 2 of `CLASS` into `dir`, as `batch --shard`
    /// would: each of its students scored 20, with a results.json.
    fn write_part(dir: &Path, k: usize) -> Manifest {
        let graded: Vec<String> = CLASS
            .iter()
            .filter(|s| shard::part_of(s, 2) == k)
            .map(|s| s.to_string())
            .collect();
        let manifest = Manifest {
            part: k,
            parts: 2,
            class: CLASS.iter().map(|s| s.to_string()).collect(),
            graded: graded.clone(),
            not_graded: vec![],
            grader_failed: vec![],
            settings: settings(),
        };
        save(dir, &manifest);
        for s in &graded {
            fs::create_dir_all(dir.join(s)).unwrap();
            fs::write(
                dir.join(s).join("results.json"),
                format!("{{\"student\": \"{s}\"}}"),
            )
            .unwrap();
        }
        manifest
    }

    fn save(dir: &Path, manifest: &Manifest) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(shard::MANIFEST), manifest.to_text()).unwrap();
        let table = Table {
            header: HEADER.iter().map(|h| h.to_string()).collect(),
            rows: manifest
                .graded
                .iter()
                .map(|s| {
                    vec![
                        s.clone(),
                        "20".into(),
                        "20".into(),
                        "20".into(),
                        String::new(),
                    ]
                })
                .collect(),
        };
        fs::write(dir.join(CLASS_TABLE), table.to_csv()).unwrap();
    }

    fn parts(base: &Path) -> (PathBuf, PathBuf) {
        let (one, two) = (base.join("part-1"), base.join("part-2"));
        write_part(&one, 1);
        write_part(&two, 2);
        (one, two)
    }

    #[test]
    fn the_parts_join_into_one_class_in_name_order() {
        let base = tempfile::tempdir().unwrap();
        let (one, two) = parts(base.path());
        // Each part holds some of the class, or the test proves nothing.
        assert!((1..CLASS.len()).contains(&Manifest::read(&one).unwrap().graded.len()));
        let out = base.path().join("class");
        let merged = merge(&[two, one], &out).unwrap();
        assert_eq!((merged.parts, merged.students), (2, CLASS.len()));
        let table = Table::read(&out.join(CLASS_TABLE)).unwrap();
        let names: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, CLASS);
        for s in CLASS {
            let results = fs::read_to_string(out.join(s).join("results.json")).unwrap();
            assert_eq!(results, format!("{{\"student\": \"{s}\"}}"));
        }
    }

    #[test]
    fn a_missing_or_repeated_part_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let (one, two) = parts(base.path());
        let out = base.path().join("class");
        let why = merge(std::slice::from_ref(&one), &out).unwrap_err();
        assert!(
            why.starts_with(
                "part 2/2 is missing: grade it with `grader batch CLASS --shard 2/2 --seed 7"
            ),
            "{why}"
        );
        let why = merge(&[one.clone(), one.clone(), two.clone()], &out).unwrap_err();
        assert!(why.starts_with("part 1/2 is given twice"), "{why}");
        let why = merge(&[one.clone(), two], &one).unwrap_err();
        assert!(why.contains("is part 1/2"), "{why}");
        assert!(!out.exists(), "nothing written when refused");
    }

    #[test]
    fn parts_graded_differently_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let (one, two) = parts(base.path());
        let mut m = Manifest::read(&two).unwrap();
        m.settings.seed = 8;
        save(&two, &m);
        let why = merge(&[one.clone(), two.clone()], &base.path().join("out")).unwrap_err();
        assert!(
            why.contains("different settings: seed 7 in part 1/2"),
            "{why}"
        );
        assert!(why.contains("8 in part 2/2"), "{why}");
        m.settings.seed = 7;
        m.parts = 3;
        save(&two, &m);
        let why = merge(&[one, two], &base.path().join("out")).unwrap_err();
        assert!(why.contains("different splits"), "{why}");
    }

    #[test]
    fn an_interrupted_part_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let (one, two) = parts(base.path());
        let mut m = Manifest::read(&two).unwrap();
        let last = m.graded.pop().unwrap();
        m.not_graded.push(last.clone());
        save(&two, &m);
        let why = merge(&[one, two], &base.path().join("out")).unwrap_err();
        assert!(
            why.contains(&format!("was interrupted before grading {last}")),
            "{why}"
        );
    }

    #[test]
    fn a_student_no_part_graded_is_named() {
        let base = tempfile::tempdir().unwrap();
        let (one, two) = parts(base.path());
        // Part 2's machine had one student fewer in its class folder.
        let mut m = Manifest::read(&two).unwrap();
        let gone = m.graded.remove(0);
        m.class.retain(|s| *s != gone);
        save(&two, &m);
        let why = merge(&[one, two], &base.path().join("out")).unwrap_err();
        assert!(
            why.contains(&format!("not graded by any part: {gone} (part 2/2)")),
            "{why}"
        );
    }

    #[test]
    fn a_part_without_a_students_files_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let (one, two) = parts(base.path());
        let student = Manifest::read(&two).unwrap().graded[0].clone();
        fs::remove_dir_all(two.join(&student)).unwrap();
        let out = base.path().join("out");
        let why = merge(&[one, two], &out).unwrap_err();
        assert!(why.contains(&format!("no folder {student}/")), "{why}");
        assert!(!out.exists(), "nothing written when refused");
    }

    #[test]
    fn a_table_that_disagrees_with_its_manifest_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let (one, two) = parts(base.path());
        let table = fs::read_to_string(two.join(CLASS_TABLE)).unwrap();
        let first_row_end = table.find("\r\n").unwrap() + 2;
        let second_row_end = first_row_end + table[first_row_end..].find("\r\n").unwrap() + 2;
        let shorter = format!("{}{}", &table[..first_row_end], &table[second_row_end..]);
        fs::write(two.join(CLASS_TABLE), shorter).unwrap();
        let why = merge(&[one, two], &base.path().join("out")).unwrap_err();
        assert!(why.contains("does not list the students"), "{why}");
    }
}
