//! How long `check` takes: the median of many runs on each file given, or
//! by default on the largest exercise file and the largest Rust file of
//! the course. `cargo run --release -p boundary --example time_check`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUNS: usize = 501;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        let mut all = Vec::new();
        rust_files(&repo, &mut all);
        let size = |p: &PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        let largest = |files: Vec<&PathBuf>| files.into_iter().max_by_key(|p| size(p)).cloned();
        let lib = largest(all.iter().filter(|p| p.ends_with("src/lib.rs")).collect());
        files.extend(lib);
        files.extend(largest(all.iter().collect()));
    }
    let policy = boundary::course_policy();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("readable");
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let verdict = boundary::check("src/lib.rs", &source, &policy);
                std::hint::black_box(verdict);
                start.elapsed()
            })
            .collect();
        times.sort();
        let name = file.strip_prefix(&repo).unwrap_or(&file).display();
        println!(
            "{name}: {} bytes, {} lines: median {:?} (min {:?}, max {:?}) over {RUNS} runs",
            source.len(),
            source.lines().count(),
            times[RUNS / 2],
            times[0],
            times[RUNS - 1],
        );
    }
}

/// Every `.rs` file under `dir`, outside `target` and hidden directories.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}
