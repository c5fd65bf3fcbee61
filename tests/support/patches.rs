//! Variants of the reference solutions, kept as patches.
//!
//! A variant (a known-bad submission, or a correct one written in another
//! style) is a unified diff against one reference solution,
//! `solutions/NN-slug/src/lib.rs`, which its `---` header names. Kept as a
//! patch, a variant follows its solution: a change to the solution that
//! the patch does not touch is in the variant too, and a change that
//! overlaps it makes the patch fail to apply, which says that the variant
//! must be looked at again, instead of leaving a stale copy graded.
//!
//! This file is shared by every user of the variants: it is the
//! `patches` module of the `course-tests` library, and the grader's race
//! benchmark and the boundary's tests include it by path (they cannot
//! depend on the course's root package, which the student edition does
//! not have). So it uses nothing but `std` and `diffy`.
//!
//! To change a variant: write the patched file out (`patch -o`), edit it,
//! and make the patch again from the solution with
//! `diff -u --label a/solutions/NN-slug/src/lib.rs --label b/solutions/NN-slug/src/lib.rs solutions/NN-slug/src/lib.rs EDITED > the.patch`.

use std::path::{Path, PathBuf};

/// The `.patch` files of a folder, sorted by name; none if it has none.
pub fn patches_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "patch"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// A patch's name: its file name without `.patch` (`05-no-owner-check`).
pub fn name_of(patch: &Path) -> String {
    patch
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The exercise's folder (`05-reentrant-lock`) of the solution a patch's
/// header names as its original, `a/solutions/05-reentrant-lock/src/lib.rs`.
/// Taken from the header, not from the patch's name, so that a patch
/// cannot be applied to a solution it was not made from.
pub fn exercise_of(patch: &diffy::Patch<'_, str>) -> Result<String, String> {
    let original = patch.original().unwrap_or_default();
    original
        .trim_start_matches("a/")
        .strip_prefix("solutions/")
        .and_then(|rest| rest.strip_suffix("/src/lib.rs"))
        .filter(|dir| !dir.is_empty() && !dir.contains('/'))
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "its header names {original:?}, not a reference solution \
                 (--- a/solutions/NN-slug/src/lib.rs)"
            )
        })
}

/// A variant made from its patch: the exercise's folder and the source of
/// its `src/lib.rs`.
pub struct Patched {
    /// The exercise's folder, `05-reentrant-lock`.
    pub exercise: String,
    /// The patched `src/lib.rs`.
    pub source: String,
}

/// Applies the patch at `patch` to the reference solution it names, as it
/// is now in the course at `course`. The error names the patch and says
/// what to do: a patch that no longer applies means the solution changed
/// under the variant.
pub fn apply(course: &Path, patch: &Path) -> Result<Patched, String> {
    let shown = patch.strip_prefix(course).unwrap_or(patch).display();
    let text = std::fs::read_to_string(patch)
        .map_err(|e| format!("cannot read the patch {shown}: {e}"))?;
    let parsed = diffy::Patch::from_str(&text)
        .map_err(|e| format!("the patch {shown} is not a patch: {e}"))?;
    let exercise = exercise_of(&parsed).map_err(|e| format!("the patch {shown}: {e}"))?;
    let solution = Path::new("solutions")
        .join(&exercise)
        .join("src")
        .join("lib.rs");
    let base = std::fs::read_to_string(course.join(&solution)).map_err(|e| {
        format!(
            "the patch {shown} is against {}, which cannot be read: {e}",
            solution.display()
        )
    })?;
    let source = diffy::apply(&base, &parsed).map_err(|e| {
        format!(
            "the patch {shown} no longer applies to {} ({e}): the solution changed \
             where the variant differs from it; make the variant again from the \
             new solution (see tests/support/patches.rs)",
            solution.display()
        )
    })?;
    Ok(Patched { exercise, source })
}

/// Writes the variant of `patch` as a submission of one file under `dir`
/// (`dir/exercises/NN-slug/src/lib.rs`, the layout `grader --workspace`
/// reads), and returns that file's path.
pub fn stage(course: &Path, patch: &Path, dir: &Path) -> Result<PathBuf, String> {
    let patched = apply(course, patch)?;
    let src = dir.join("exercises").join(&patched.exercise).join("src");
    std::fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    let file = src.join("lib.rs");
    std::fs::write(&file, patched.source).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(file)
}
