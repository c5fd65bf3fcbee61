//! Running what is graded: the sandbox every run and build happens in,
//! its supervisor, the pool of runs, and cleaning up after runs and
//! interrupts.

pub mod cgroup;
pub mod interrupt;
pub mod runner;
pub mod sandbox;
pub mod seccomp;
pub mod slot;
pub mod supervise;
pub mod sweep;
