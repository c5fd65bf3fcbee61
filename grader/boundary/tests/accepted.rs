//! What must pass: every stub, reference solution and known-bad variant in
//! the course (a wrong answer is graded, not refused), and correct
//! programs written in other styles than the reference's.

mod common;

use common::{assert_accepted, files, repo};

fn assert_all_accepted(pattern: &str, at_least: usize) {
    let found = files(pattern);
    assert!(
        found.len() >= at_least,
        "expected {at_least}+ files for {pattern}, found {found:?}"
    );
    for path in found {
        let source = std::fs::read_to_string(&path).unwrap();
        let label = path
            .strip_prefix(repo())
            .unwrap_or(&path)
            .display()
            .to_string();
        assert_accepted(&label, &source);
    }
}

#[test]
fn every_stub_is_accepted() {
    assert_all_accepted("exercises/*/src/lib.rs", 5);
}

#[test]
fn every_reference_solution_is_accepted() {
    assert_all_accepted("solutions/*/src/lib.rs", 5);
}

#[test]
fn every_known_bad_variant_is_accepted() {
    assert_all_accepted("tests/fixtures/variants/*/exercises/*/src/lib.rs", 15);
}

#[test]
fn the_other_graded_fixtures_are_accepted() {
    for fixture in [
        "endless-drain",
        "faulty-drain",
        "unlocked-bank",
        "mixed-bag",
    ] {
        assert_all_accepted(
            &format!("tests/fixtures/{fixture}/exercises/*/src/lib.rs"),
            1,
        );
    }
}

#[test]
fn a_guard_in_a_block() {
    assert_accepted(
        "guard",
        r#"
use multiproc::{pause, Lock, LockError, Value};
use std::time::Duration;

pub const STEP: Duration = Duration::from_millis(10);

pub fn deposit(balance: &Value<i64>, lock: &Lock, amount: i64, steps: u32) -> Result<(), LockError> {
    for _ in 0..steps {
        pause(STEP);
        {
            let _guard = lock.guard()?;
            let b = balance.load();
            balance.store(b + amount);
        }
    }
    Ok(())
}
"#,
    );
}

#[test]
fn explicit_acquire_and_release_with_full_paths() {
    assert_accepted(
        "acquire/release",
        r#"
pub fn withdraw(
    balance: &multiproc::Value<i64>,
    lock: &multiproc::Lock,
    amount: i64,
    steps: u32,
) -> Result<(), multiproc::LockError> {
    for _ in 0..steps {
        multiproc::time::pause(std::time::Duration::from_millis(10));
        lock.acquire()?;
        let result = balance.update(|b| b - amount);
        lock.release()?;
        let _ = result;
    }
    Ok(())
}
"#,
    );
}

#[test]
fn a_try_acquire_spin_loop() {
    assert_accepted(
        "try_acquire",
        r#"
use multiproc::lock::{Lock, LockError};
use multiproc::value::Value;

pub fn change(balance: &Value<i64>, lock: &Lock, by: i64) -> Result<(), LockError> {
    loop {
        if lock.try_acquire()? {
            break;
        }
        std::thread::yield_now();
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
    balance.update(|b| b + by);
    lock.release()
}
"#,
    );
}

#[test]
fn the_owner_from_std_process_id() {
    // The caller's pid from `std`, not the runtime: as sound an owner.
    assert_accepted(
        "std::process::id",
        r#"
pub fn me() -> i32 {
    std::process::id() as i32
}

pub fn also_me() -> i32 {
    use std::process;
    process::id() as i32
}
"#,
    );
}

#[test]
fn a_try_get_loop_with_a_vecdeque() {
    assert_accepted(
        "try_get",
        r#"
use std::collections::VecDeque;

use multiproc::{Lock, Queue, QueueError};

pub fn drain(queue: &Queue<u32>, lock: &Lock) -> Result<Vec<u32>, QueueError> {
    let mut seen: VecDeque<u32> = VecDeque::new();
    loop {
        let next = {
            let _held = lock.guard().map_err(|e| QueueError::from(e))?;
            queue.try_get()?
        };
        match next {
            Some(item) => seen.push_back(item),
            None => break,
        }
    }
    Ok(seen.into_iter().collect())
}
"#,
    );
}

#[test]
fn a_recursive_child_task_with_display_and_an_inline_module() {
    assert_accepted(
        "recursive",
        r#"
use std::fmt::{self, Display};
use std::io;

use multiproc::{current_name, current_pid, pause, Lock, LockError, Value};

mod helpers {
    use super::*;

    pub(crate) fn depth_after(acquires: u32, releases: u32) -> u32 {
        acquires.saturating_sub(releases)
    }

    pub(crate) fn me() -> i32 {
        current_pid()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Depth(u32);

impl Display for Depth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "depth {}", self.0)
    }
}

pub struct ReentrantLock {
    lock: Lock,
    owner: Value<i32>,
    depth: Value<u32>,
}

impl ReentrantLock {
    pub fn new() -> io::Result<Self> {
        Ok(Self { lock: Lock::new()?, owner: Value::new(0)?, depth: Value::new(0)? })
    }

    pub fn acquire(&self) -> Result<(), LockError> {
        if self.owner.load() == helpers::me() {
            self.depth.update(|d| d + 1);
            return Ok(());
        }
        self.lock.acquire()?;
        self.owner.store(helpers::me());
        self.depth.store(helpers::depth_after(1, 0));
        Ok(())
    }

    pub fn release(&self) -> Result<(), LockError> {
        let left = self.depth.update(|d| d - 1);
        if left == 0 {
            self.owner.store(0);
            self.lock.release()?;
        }
        Ok(())
    }
}

fn take(rlock: &ReentrantLock, times: u32) -> Result<(), LockError> {
    if times == 0 {
        return Ok(());
    }
    rlock.acquire()?;
    println!("I am child process {} ({})", current_name(), Depth(times));
    pause(std::time::Duration::from_millis(10));
    take(rlock, times - 1)?;
    rlock.release()
}

pub fn child_task(rlock: &ReentrantLock) -> Result<(), LockError> {
    take(rlock, 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t() {}

    #[test]
    #[should_panic(expected = "boom")]
    fn panics() {
        panic!("boom");
    }
}
"#,
    );
}

#[test]
fn closures_iterators_and_std_odds_and_ends() {
    assert_accepted(
        "closures",
        r#"
#![allow(dead_code)]
#![warn(clippy::all)]

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

/// Totals, with an odd attribute or two.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
#[must_use]
pub struct Totals {
    #[doc = "per name"]
    by_name: BTreeMap<String, i64>,
}

#[inline]
#[track_caller]
pub fn totals(items: &[(String, i64)]) -> Totals {
    let by_name = items
        .iter()
        .filter(|(_, n)| *n != 0)
        .fold(BTreeMap::new(), |mut m, (k, v)| {
            *m.entry(k.clone()).or_insert(0) += v;
            m
        });
    Totals { by_name }
}

#[rustfmt::skip]
pub fn odds() -> usize {
    let counter = Arc::new(AtomicUsize::new(0));
    counter.fetch_add(1, AtomicOrdering::SeqCst);
    let shared = Mutex::new(HashMap::<u8, u8>::new());
    shared.lock().unwrap().insert(1, 2);
    let set: HashSet<i32> = (0..10).map(|x| x * 2).collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", set.len()).unwrap();
    let mut a = 1;
    let mut b = 2;
    std::mem::swap(&mut a, &mut b);
    let v = Vec::<u8>::new();
    let m = std::collections::HashMap::<u8, u8>::new();
    let x = 300i32 as std::primitive::u8;
    let big = std::u64::MAX;
    let _ = core::cmp::max(1, 2);
    let ord = 1.cmp(&2) == Ordering::Less;
    assert!(matches!(x, 0..=255));
    debug_assert_eq!(v.len(), m.len(), "{}", format_args!("{big}"));
    let e = std::io::Error::new(std::io::ErrorKind::Other, "x");
    let r: std::io::Result<()> = Err(e);
    eprintln!("{r:?} {} {}", line!(), module_path!());
    if !ord && a != b { unreachable!() }
    std::mem::size_of::<u64>() + counter.load(AtomicOrdering::SeqCst)
}

pub fn labels<'a>(x: &'a str) -> &'a str {
    'outer: loop {
        break 'outer x;
    }
}

pub fn generic<T: Clone + Default + std::fmt::Debug>(x: &T) -> Vec<T> {
    vec![x.clone(), T::default()]
}

impl Iterator for Totals {
    type Item = i64;
    fn next(&mut self) -> Option<Self::Item> {
        self.by_name.pop_first().map(|(_, v)| v)
    }
}
"#,
    );
}

#[test]
fn names_that_are_not_paths_are_left_alone() {
    // Variables, fields, labels and cfg predicates named like crates lead
    // nowhere; `test` in `#[cfg(test)]` or `#[test]` is no path either.
    assert_accepted(
        "names",
        r#"
pub struct S { pub std: u8, pub test: u8 }
pub fn f(nix: u8, libc: u8) -> u8 {
    let test = nix + libc;
    let s = S { std: test, test };
    #[cfg(not(test))]
    let core = s.std;
    #[cfg(test)]
    let core = 0;
    core + s.test
}
"#,
    );
}
