//! Building what is graded: one exercise crate at a time.
//!
//! Each crate is built by its own `cargo build --release -p PACKAGE`, so a
//! submission where one exercise does not compile fails that exercise only.
//! Cargo's JSON messages give the executable's path (wherever the target
//! directory is) and the compiler's first error, which becomes the verdict.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::course::cargo;

/// A successful build.
#[derive(Clone, Debug)]
pub struct Built {
    /// The program.
    pub executable: PathBuf,
    /// How long cargo took.
    pub elapsed: Duration,
}

/// A failed build.
#[derive(Clone, Debug)]
pub struct BuildError {
    /// One line: the compiler's first error, with its place.
    pub headline: String,
    /// The compiler's rendering of that error, or the end of cargo's
    /// output when there is no compiler error.
    pub details: String,
}

/// Builds `package` of the workspace whose manifest is `manifest`, into
/// `target_dir` when given (else wherever cargo is configured to), giving
/// up after `timeout`.
pub fn build(
    manifest: &Path,
    target_dir: Option<&Path>,
    package: &str,
    timeout: Duration,
) -> Result<Built, BuildError> {
    let started = Instant::now();
    let mut cmd = Command::new(cargo());
    cmd.args([
        "build",
        "--release",
        "--message-format=json",
        "-p",
        package,
        "--manifest-path",
    ])
    .arg(manifest)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(dir) = target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    let fail = |headline: String, details: String| BuildError { headline, details };
    let mut child = cmd.spawn().map_err(|e| {
        fail(
            format!("cannot run cargo ({}): {e}", cargo().display()),
            String::new(),
        )
    })?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let package_owned = package.to_string();
    let messages = std::thread::spawn(move || read_messages(stdout, &package_owned));
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = (&mut stderr).take(1 << 20).read_to_string(&mut text);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        text
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let found = messages.join().unwrap_or_default();
    let stderr_text = errors.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(fail(
            format!("the build did not finish within {} s", timeout.as_secs()),
            tail(&stderr_text, 20),
        ));
    };
    if let Some((headline, details)) = found.first_error {
        return Err(fail(format!("does not compile: {headline}"), details));
    }
    match (status.success(), found.executable) {
        (true, Some(executable)) => Ok(Built {
            executable,
            elapsed: started.elapsed(),
        }),
        (true, None) => Err(fail(
            format!("cargo built no program named `{package}`"),
            tail(&stderr_text, 20),
        )),
        (false, _) => {
            let first = stderr_text
                .lines()
                .find(|l| l.starts_with("error"))
                .unwrap_or("cargo build failed")
                .to_string();
            Err(fail(
                format!("does not build: {first}"),
                tail(&stderr_text, 20),
            ))
        }
    }
}

#[derive(Default)]
struct Found {
    executable: Option<PathBuf>,
    first_error: Option<(String, String)>,
}

fn read_messages(stdout: impl Read, package: &str) -> Found {
    let mut found = Found::default();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match msg["reason"].as_str() {
            Some("compiler-artifact") => {
                let is_bin = msg["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"));
                if is_bin && msg["target"]["name"] == package {
                    if let Some(exe) = msg["executable"].as_str() {
                        found.executable = Some(PathBuf::from(exe));
                    }
                }
            }
            Some("compiler-message") if found.first_error.is_none() => {
                let m = &msg["message"];
                if m["level"] == "error" {
                    found.first_error = Some(describe_error(m));
                }
            }
            _ => {}
        }
    }
    found
}

/// "src/lib.rs:12:9: cannot find value `x` in this scope", and the
/// compiler's full rendering.
fn describe_error(m: &Value) -> (String, String) {
    let text = m["message"].as_str().unwrap_or("error").to_string();
    let place = m["spans"].as_array().and_then(|spans| {
        let s = spans
            .iter()
            .find(|s| s["is_primary"] == true)
            .or(spans.first())?;
        Some(format!(
            "{}:{}:{}: ",
            s["file_name"].as_str()?,
            s["line_start"].as_u64()?,
            s["column_start"].as_u64()?
        ))
    });
    let rendered = m["rendered"].as_str().unwrap_or_default();
    (
        format!("{}{text}", place.unwrap_or_default()),
        rendered.lines().take(40).collect::<Vec<_>>().join("\n"),
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
