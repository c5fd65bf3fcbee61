//! Pictures of interleavings: the lessons' committed SVGs are what the
//! grader draws today, and a real browser renders a replay's HTML page.
//!
//! Lessons 2 to 5 each show the failing schedule of the lesson's buggy
//! program as `exercises/NN-name/timeline.svg`. The grader finds the run
//! (a grading session at a fixed seed; its first failing run) and draws
//! it (`grader replay … --svg`). A picture that differs from what the
//! grader draws now is stale, and the test says how to redraw them all:
//!
//! ```sh
//! UPDATE_PICTURES=1 cargo test -p course-tests --test pictures
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{course_root, fixture, grader, json, patches, variant_patch};

/// The session seed the lessons' runs are found with.
const FIND_SEED: u64 = 1;
/// Runs of that session: every lesson's bug shows in far fewer.
const FIND_RUNS: u64 = 20;

/// One lesson's picture: which program shows the lesson's failure.
struct Lesson {
    dir: &'static str,
    slug: &'static str,
    /// Where the program comes from: grader options.
    source: &'static [&'static str],
    /// The lesson's failure is a run that breaks an invariant; otherwise
    /// (exercise 2, whose correct program races) a run with a lost update.
    fails: bool,
}

const LESSONS: &[Lesson] = &[
    Lesson {
        dir: "02-unlocked-race",
        slug: "unlocked-race",
        source: &["--solutions"],
        fails: false,
    },
    Lesson {
        dir: "03-locked-bank",
        slug: "locked-bank",
        source: &["--solutions", "--demo", "unlocked"],
        fails: true,
    },
    Lesson {
        dir: "04-queue-drain",
        slug: "queue-drain",
        source: &["--solutions", "--demo", "faulty"],
        fails: true,
    },
    Lesson {
        dir: "05-reentrant-lock",
        slug: "reentrant-lock",
        source: &["--workspace", "VARIANT"],
        fails: true,
    },
];

/// Lesson 5's failure: a release that does not check the owner, staged
/// as a submission under `tmp` (once).
fn variant(tmp: &Path) -> PathBuf {
    let dir = tmp.join("05-no-owner-check");
    if !dir.exists() {
        let patch = variant_patch("variants", "05-no-owner-check");
        patches::stage(&course_root(), &patch, &dir).unwrap_or_else(|why| panic!("{why}"));
    }
    dir
}

fn source_args(lesson: &Lesson, tmp: &Path) -> Vec<String> {
    lesson
        .source
        .iter()
        .map(|a| match *a {
            "VARIANT" => variant(tmp).display().to_string(),
            a => a.to_string(),
        })
        .collect()
}

/// The seed of the run the lesson shows: the first failing run of a
/// session at [`FIND_SEED`], or the first run from it with a lost update.
fn find_seed(lesson: &Lesson, tmp: &Path) -> u64 {
    if lesson.fails {
        let out = grader()
            .args([lesson.slug, "--format", "json", "--seed"])
            .arg(FIND_SEED.to_string())
            .args(["--runs", &FIND_RUNS.to_string()])
            .args(source_args(lesson, tmp))
            .output()
            .unwrap();
        let report = json(&out.stdout);
        let runs = &report["exercises"][0]["failing_runs"];
        return runs[0]["seed"]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: no failing run found: {report}", lesson.slug));
    }
    (FIND_SEED..FIND_SEED + FIND_RUNS)
        .find(|&seed| draw(lesson, seed, tmp).contains(r#"class="step overwritten""#))
        .unwrap_or_else(|| panic!("{}: no lost update in {FIND_RUNS} runs", lesson.slug))
}

/// The grader's picture of one run.
fn draw(lesson: &Lesson, seed: u64, tmp: &Path) -> String {
    let svg = tmp.join(format!("{}.svg", lesson.slug));
    let out = grader()
        .args(["replay", lesson.slug, "--seed", &seed.to_string(), "--svg"])
        .arg(&svg)
        .args(source_args(lesson, tmp))
        .output()
        .unwrap();
    std::fs::read_to_string(&svg).unwrap_or_else(|e| {
        panic!(
            "{}: no picture ({e}):\n{}\n{}",
            lesson.slug,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Whether a picture shows a break: a broken invariant, a lost update or
/// processes stuck for good.
fn broke(svg: &str) -> bool {
    ["step breaking", "step overwriting", "stuck-wait"]
        .iter()
        .any(|mark| svg.contains(mark))
}

#[test]
fn lesson_pictures_are_fresh() {
    // The grade command above does not take --demo: a demo is graded by
    // replaying it, so the demo lessons find their seed from a replay.
    let tmp = tempfile::tempdir().unwrap();
    let update = std::env::var_os("UPDATE_PICTURES").is_some();
    let mut stale = Vec::new();
    for lesson in LESSONS {
        let seed = if lesson.source.contains(&"--demo") {
            (FIND_SEED..FIND_SEED + FIND_RUNS)
                .find(|&seed| broke(&draw(lesson, seed, tmp.path())))
                .unwrap_or_else(|| panic!("{}: no failing run found", lesson.slug))
        } else {
            find_seed(lesson, tmp.path())
        };
        let fresh = draw(lesson, seed, tmp.path());
        assert_eq!(
            fresh.matches(r#"<g class="lane""#).count(),
            fresh
                .split("data-lanes=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap(),
            "one lane per process"
        );
        let path = course_root()
            .join("exercises")
            .join(lesson.dir)
            .join("timeline.svg");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != fresh {
            if update {
                std::fs::write(&path, &fresh).unwrap();
                eprintln!("redrew {}", path.display());
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale lesson pictures: {stale:?}; redraw them with \
         `UPDATE_PICTURES=1 cargo test -p course-tests --test pictures`"
    );
}

/// The browser, or why the test skips.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("sh")
                .args(["-c", &format!("command -v {name}")])
                .output()
                .ok()?;
            let path = String::from_utf8(out.stdout).ok()?;
            (out.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
        })
}

/// Runs headless Chromium on `page` with `args`; returns its stdout and
/// stderr.
fn headless(browser: &Path, page: &Path, profile: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_browser_renders_a_replay_page() {
    let Some(browser) = chromium() else {
        eprintln!(
            "skipped: no chromium here (`apt-get install chromium`; .ci/run installs it), \
             so the page was not rendered in a browser"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("run.html");
    let out = grader()
        .args(["replay", "locked-bank", "--solutions", "--demo", "unlocked"])
        .args(["--seed", "3", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Picture: "), "{text}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script") && !html.contains("src=\"http"));

    let profile = tmp.path().join("profile");
    let (dom, err) = headless(&browser, &page, &profile, &["--dump-dom"]);
    // The page rendered its pictures: each SVG is in the DOM with one lane
    // per process (the main process, deposit, withdraw).
    let svgs = dom.matches("<svg").count();
    assert!(svgs >= 1, "no SVG in the rendered page:\n{dom}\n{err}");
    assert!(dom.contains(r#"data-lanes="3""#), "{dom}");
    assert_eq!(dom.matches(r#"<g class="lane""#).count(), 3 * svgs);
    for name in ["MainProcess", "deposit", "withdraw"] {
        assert!(dom.contains(&format!(r#"data-process="{name}""#)), "{name}");
    }
    // No error from the page: no console message, no failed load.
    for bad in [
        "CONSOLE(",
        "Uncaught",
        "ERR_FILE_NOT_FOUND",
        "Failed to load",
    ] {
        assert!(!err.contains(bad), "the browser reported {bad}:\n{err}");
    }
    let shot = tmp.path().join("shot.png");
    let (_, err) = headless(
        &browser,
        &page,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000",
        ],
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{err}"));
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{err}");
    if let Some(dir) = std::env::var_os("PICTURES_SCREENSHOT") {
        let _ = std::fs::copy(&shot, Path::new(&dir).join("replay-page.png"));
    }
}

/// `--html` beside the human report draws each failing exercise's first
/// failing run and ends the report with the page's path; `--format html`
/// is the same page as the report itself.
#[test]
fn a_session_page_draws_each_failing_exercise() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("session.html");
    let out = grader()
        .args(["3", "--runs", "5", "--seed", "4", "--workspace"])
        .arg(fixture("unlocked-bank"))
        .arg("--html")
        .arg(&page)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("Pictures of the failing runs: {}", page.display())
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<h2>03 locked-bank: run 0 (seed 4)</h2>"),
        "{html}"
    );
    assert!(html.contains(r#"data-lanes="3""#));
    assert!(html.contains("cargo grade replay locked-bank --seed 4"));
    let out = grader()
        .args([
            "3",
            "--runs",
            "5",
            "--seed",
            "4",
            "--format",
            "html",
            "--workspace",
        ])
        .arg(fixture("unlocked-bank"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let same = String::from_utf8_lossy(&out.stdout);
    assert!(same.starts_with("<!DOCTYPE html>"), "{same}");
    assert!(same.contains("<h2>03 locked-bank: run 0 (seed 4)</h2>"));
}
