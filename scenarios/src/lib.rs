//! # scenarios: the course's side of every exercise
//!
//! Each exercise is a pair of crates, the student's stub and the reference
//! solution, with the same public functions. Both crates' `main.rs` hand
//! those functions to a driver in this crate, so everything that is
//! *measured* lives here, out of the student's reach: the shared state is
//! set up the same way every time, the workers run as real processes, and a
//! report of what happened goes to the grader (see [`common`]).
//!
//! | module | exercise | what the driver does |
//! |---|---|---|
//! | [`sequential_bank`] | 01 | one process: deposit, then withdraw |
//! | [`unlocked_race`] | 02 | two processes update one shared balance, no lock |
//! | [`locked_bank`] | 03 | the same, with a lock (and `--demo unlocked`) |
//! | [`queue_drain`] | 04 | two children drain a queue of 100 items (and `--demo faulty`) |
//! | [`reentrant_lock`] | 05 | a parent and two children share a reentrant lock |
//!
//! Run by hand, a driver prints a short summary the way the lessons'
//! programs do. Run by the grader, it also appends a JSON-lines report to
//! the file named by `COURSE_REPORT` (the format is `course_report`'s).

pub mod bank;
pub mod common;
pub mod locked_bank;
pub mod queue_drain;
pub mod reentrant_lock;
pub mod sequential_bank;
pub mod serve;
pub mod unlocked_race;
