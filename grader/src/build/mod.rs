//! Building what is graded: staging a submission over a pristine copy of
//! the course, checking the student's files against the language
//! boundary, compiling each exercise in a box, and checking what the
//! compiler made.

pub mod binary;
pub mod boundary;
pub mod compile;
pub mod stage;
