//! Building what is graded: staging a submission over a pristine copy of
//! the course, and compiling each exercise under supervision.

pub mod compile;
pub mod stage;
