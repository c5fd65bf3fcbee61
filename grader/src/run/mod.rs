//! Running what is graded: the run supervisor, the pool of runs, and
//! cleaning up after runs and interrupts.

pub mod interrupt;
pub mod runner;
pub mod supervise;
pub mod sweep;
