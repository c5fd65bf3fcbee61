//! Judging runs: what one run was seen to do, the invariants checked on
//! it, the verdicts tallied over a session, and the narration of traces.

pub mod evidence;
pub mod invariants;
pub mod model;
pub mod narrate;
pub mod params;
pub mod run;
pub mod verdict;
