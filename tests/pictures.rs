//! Pictures of interleavings: the lessons' committed SVGs are what the
//! grader draws today, and a real browser renders a replay's HTML page.
//!
//! Lessons 2 to 5 each show the smallest schedule that breaks the
//! lesson's buggy program as `exercises/NN-name/timeline.svg`. The grader
//! finds it (`--mode exhaustive --invariant ID`, with `--demo NAME` for
//! the lessons' demonstrations: the fewest preemptions that break that
//! invariant, then the shortest, at the exercise's smallest size) and
//! draws it (`grader replay … --size N --schedule S
//! --svg`). Lesson 2's program is correct and races by design, so it is
//! drawn under lesson 3's schedule: the same two workers, the same lost
//! update. A picture that differs from what the grader draws now is
//! stale, and the test says how to redraw them all:
//!
//! ```sh
//! UPDATE_PICTURES=1 cargo test -p course-tests --test pictures
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{course_root, fixture, grader, json, patches, staged, variant_patch};

/// Where a lesson's program comes from.
#[derive(Clone, Copy)]
enum Program {
    /// The reference solution.
    Solution,
    /// The lesson's buggy program of that name (`--demo NAME`).
    Demo(&'static str),
    /// A known-bad variant (`tests/fixtures/variants/NAME.patch`).
    Variant(&'static str),
}

/// One lesson's picture: which program shows the lesson's failure.
struct Lesson {
    dir: &'static str,
    slug: &'static str,
    program: Program,
    /// The invariant the lesson's failure breaks; none for lesson 2,
    /// drawn under lesson 3's schedule.
    invariant: Option<&'static str>,
}

const LESSONS: &[Lesson] = &[
    Lesson {
        dir: "03-locked-bank",
        slug: "locked-bank",
        program: Program::Demo("unlocked"),
        invariant: Some("final-equals-start"),
    },
    Lesson {
        dir: "02-unlocked-race",
        slug: "unlocked-race",
        program: Program::Solution,
        invariant: None,
    },
    Lesson {
        dir: "04-queue-drain",
        slug: "queue-drain",
        program: Program::Demo("faulty"),
        invariant: Some("no-hang"),
    },
    Lesson {
        dir: "05-reentrant-lock",
        slug: "reentrant-lock",
        program: Program::Variant("05-no-owner-check"),
        invariant: Some("exclusive"),
    },
];

/// The grader options that name `program`, staging a variant under `tmp`
/// (once).
fn source_args(program: Program, tmp: &Path) -> Vec<String> {
    match program {
        Program::Solution => vec!["--solutions".into()],
        Program::Demo(name) => vec!["--solutions".into(), "--demo".into(), name.into()],
        Program::Variant(name) => {
            let dir = tmp.join(name);
            if !dir.exists() {
                let patch = variant_patch("variants", name);
                patches::stage(&course_root(), &patch, &dir).unwrap_or_else(|why| panic!("{why}"));
            }
            vec!["--workspace".into(), dir.display().to_string()]
        }
    }
}

/// A schedule of the search: its size and its choices.
#[derive(Clone)]
struct Smallest {
    size: u64,
    schedule: String,
}

/// The smallest schedule that breaks `invariant` of the lesson's program.
fn smallest(lesson: &Lesson, invariant: &str, tmp: &Path) -> Smallest {
    let out = grader()
        .args([
            lesson.slug,
            "--mode",
            "exhaustive",
            "--invariant",
            invariant,
        ])
        .args(["--format", "json"])
        .args(source_args(lesson.program, tmp))
        .output()
        .unwrap();
    let report = json(&out.stdout);
    let failure = report["exercises"][0]["invariants"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["id"] == invariant))
        .map(|i| i["failure"].clone())
        .unwrap_or_default();
    match (failure["size"].as_u64(), failure["schedule"].as_str()) {
        (Some(size), Some(schedule)) => Smallest {
            size,
            schedule: schedule.to_string(),
        },
        _ => panic!(
            "{}: no counterexample to {invariant}: {report}",
            lesson.slug
        ),
    }
}

/// The grader's picture of the lesson's program under `at`.
fn draw(lesson: &Lesson, at: &Smallest, tmp: &Path) -> String {
    let svg = tmp.join(format!("{}.svg", lesson.slug));
    let mut cmd = grader();
    cmd.args(["replay", lesson.slug, "--size", &at.size.to_string()]);
    if !at.schedule.is_empty() {
        cmd.args(["--schedule", &at.schedule]);
    }
    let out = cmd
        .arg("--svg")
        .arg(&svg)
        .args(source_args(lesson.program, tmp))
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
    let tmp = tempfile::tempdir().unwrap();
    let update = std::env::var_os("UPDATE_PICTURES").is_some();
    let mut stale = Vec::new();
    let mut last: Option<Smallest> = None;
    for lesson in LESSONS {
        let at = match lesson.invariant {
            Some(id) => smallest(lesson, id, tmp.path()),
            None => last.clone().expect("lesson 3 comes first"),
        };
        last = Some(at.clone());
        let fresh = draw(lesson, &at, tmp.path());
        assert!(
            broke(&fresh),
            "{}: the picture shows the break",
            lesson.slug
        );
        if lesson.invariant.is_none() {
            assert!(
                fresh.contains(r#"class="step overwritten""#),
                "{}: lesson 3's schedule loses an update here too",
                lesson.slug
            );
        }
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
        // The lesson names the schedule it shows, for its reader to replay.
        let readme = course_root()
            .join("exercises")
            .join(lesson.dir)
            .join("README.md");
        // (Compared with its lines joined: a command may wrap.)
        let text = std::fs::read_to_string(&readme).unwrap();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut words = vec![format!("--size {}", at.size)];
        if !at.schedule.is_empty() {
            words.push(format!("--schedule {}", at.schedule));
        }
        for w in words {
            assert!(
                text.contains(&w),
                "{}: the lesson's replay command names `{w}`",
                readme.display()
            );
        }
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

/// `--html` beside the human report draws the failure each failing
/// exercise shows first, as the report shows it (shrunk, or the search's
/// simplest schedule at a small size), and ends the report with the page's
/// path; `--format html` is the same page as the report itself.
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
    // The lost update, shrunk to its one preemption, is the run drawn.
    assert!(
        html.contains("<h2>03 locked-bank: run 0 (seed 4), shrunk</h2>"),
        "{html}"
    );
    assert!(html.contains(r#"data-lanes="3""#));
    assert!(html.contains(r#"class="step overwriting""#));
    assert!(html.contains("cargo grade replay locked-bank --seed 4 --schedule "));
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
    assert!(same.contains("<h2>03 locked-bank: run 0 (seed 4), shrunk</h2>"));
    // A drain's hang is drawn at the small size where the search found it
    // with one preemption.
    let drain = staged(&variant_patch("variants", "04-faulty-drain"));
    let out = grader()
        .args(["4", "--runs", "20", "--seed", "4", "--format", "html"])
        .arg("--workspace")
        .arg(drain.path())
        .assert()
        .code(1)
        .get_output()
        .clone();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains(
            "<h2>04 queue-drain: the simplest failing schedule, at size 1 (3 items)</h2>"
        ),
        "{page}"
    );
    assert!(page.contains("stuck-wait"), "{page}");
    assert!(page.contains("cargo grade replay queue-drain --size 1 --schedule "));
}
