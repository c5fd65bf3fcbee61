//! Schedule strings: the choices a controlled run made at its decision
//! points, as runs of one slot joined by dots (`0x3.1.2x4` is 0, 0, 0, 1,
//! 2, 2, 2, 2). The runtime writes them (`controlled::schedule`) and reads
//! them (`replay:`); the grader writes the prefixes its search asks for
//! with the same functions, so a counterexample's schedule is the very
//! argument of `grader replay --schedule`.

use super::controlled::{MAX_DECISIONS, MAX_PROCESSES};

/// The choices as a schedule string.
pub fn format(choices: &[u8]) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < choices.len() {
        let run = choices[i..]
            .iter()
            .take_while(|&&c| c == choices[i])
            .count();
        runs.push(if run == 1 {
            choices[i].to_string()
        } else {
            format!("{}x{run}", choices[i])
        });
        i += run;
    }
    runs.join(".")
}

/// The choices a schedule string names; a slot or a count out of range is
/// refused.
pub fn parse(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for run in s.split('.').filter(|r| !r.is_empty()) {
        let (slot, count) = run.split_once('x').unwrap_or((run, "1"));
        let bad = || format!("bad schedule run {run:?} (expected SLOT or SLOTxCOUNT)");
        let slot: u8 = slot.parse().map_err(|_| bad())?;
        let count: usize = count.parse().map_err(|_| bad())?;
        if slot as usize >= MAX_PROCESSES || count > MAX_DECISIONS {
            return Err(bad());
        }
        out.extend(std::iter::repeat_n(slot, count));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let choices = [0, 0, 0, 1, 2, 2, 2, 2, 0];
        assert_eq!(format(&choices), "0x3.1.2x4.0");
        assert_eq!(parse("0x3.1.2x4.0").unwrap(), choices);
        assert_eq!(format(&[]), "");
        assert_eq!(parse("").unwrap(), Vec::<u8>::new());
        assert!(parse("1x").is_err());
        assert!(parse("0x").is_err());
        assert!(parse("99").is_err());
        assert!(parse("a.b").is_err());
    }
}
