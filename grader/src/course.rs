//! Where the course is on disk, and where its builds go.
//!
//! The grader grades the course it was built from: the workspace around
//! its own crate. When the binary is run from elsewhere (copied to a
//! grading machine, say) it looks upward from the current directory for a
//! workspace that has `exercises/` instead.

use std::path::{Path, PathBuf};

/// A checkout of the course.
#[derive(Clone, Debug)]
pub struct Course {
    /// The workspace root (holds `Cargo.toml`, `exercises/`, `solutions/`).
    pub root: PathBuf,
    /// Its cargo target directory.
    pub target_dir: PathBuf,
}

impl Course {
    /// Finds the course, or says where it looked.
    pub fn locate() -> Result<Course, String> {
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf);
        let cwd = std::env::current_dir().ok();
        let root = built_from
            .filter(|r| is_course(r))
            .or_else(|| cwd.iter().flat_map(|c| c.ancestors()).find(|r| is_course(r)).map(Path::to_path_buf))
            .ok_or_else(|| {
                "cannot find the course: no workspace with an exercises/ folder around the grader's \
                 sources or the current directory"
                    .to_string()
            })?;
        let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) if !t.is_empty() => {
                let t = PathBuf::from(t);
                match (t.is_absolute(), cwd) {
                    (false, Some(c)) => c.join(t),
                    _ => t,
                }
            }
            _ => root.join("target"),
        };
        Ok(Course { root, target_dir })
    }

    /// The grader's own corner of the target directory (staging copies).
    pub fn grader_dir(&self) -> PathBuf {
        self.target_dir.join("grader")
    }
}

fn is_course(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file() && dir.join("exercises").is_dir()
}

/// The cargo to run: the one that runs us, if it does.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}
