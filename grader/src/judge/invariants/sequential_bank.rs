//! Exercise 1, the sequential bank: one process deposits `steps` times,
//! then withdraws `steps` times. Without a second process there is no race,
//! so the balances must come out exact.

use super::{Check, Invariant, Situation};
use crate::judge::run::{RunData, Unchecked};

/// The exercise's invariants.
pub const INVARIANTS: &[Invariant] = &[
    Invariant::every(
        "after-deposit",
        "balance after deposit = start + steps × amount",
        after_deposit,
    ),
    Invariant::every(
        "after-withdraw",
        "balance after withdraw = the deposit's result − steps × amount",
        after_withdraw,
    ),
];

/// One process: nothing to interleave.
pub const COVERAGE: &[Situation] = &[];

fn after_deposit(run: &RunData) -> Result<Check, Unchecked> {
    let (start, amount, steps) = (
        run.param("start")?,
        run.param("amount")?,
        run.param("steps")?,
    );
    let want = start + steps * amount;
    let seen = run.final_value("after_deposit")?;
    Ok(Check::expect(
        seen == want,
        format!("{want} ({start} + {steps} × {amount})"),
        seen.to_string(),
    ))
}

fn after_withdraw(run: &RunData) -> Result<Check, Unchecked> {
    let (amount, steps) = (run.param("amount")?, run.param("steps")?);
    // Withdraw starts from what deposit returned: judged on its own, so
    // that a wrong deposit is not blamed twice.
    let from = run.final_value("after_deposit")?;
    let want = from - steps * amount;
    let seen = run.final_value("after_withdraw")?;
    Ok(Check::expect(
        seen == want,
        format!("{want} ({from} − {steps} × {amount})"),
        seen.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::invariants::testing::*;

    fn with_finals(deposit: i64, withdraw: i64) -> RunData {
        run(
            "sequential-bank",
            vec![
                header(
                    "sequential-bank",
                    &[("start", 600), ("amount", 5), ("steps", 100)],
                ),
                summary(
                    &[("after_deposit", deposit), ("after_withdraw", withdraw)],
                    &[],
                    &[],
                    &[],
                ),
            ],
        )
    }

    #[test]
    fn exact_balances_hold() {
        let run = with_finals(1100, 600);
        assert_eq!(after_deposit(&run).unwrap(), Check::Held);
        assert_eq!(after_withdraw(&run).unwrap(), Check::Held);
    }

    #[test]
    fn an_off_by_one_is_broken() {
        // Both loops one step short: each function is wrong on its own.
        let run = with_finals(1095, 600);
        assert!(matches!(after_deposit(&run).unwrap(), Check::Broken(v) if v.seen == "1095"));
        assert!(
            matches!(after_withdraw(&run).unwrap(), Check::Broken(v) if v.expected.starts_with("595"))
        );
    }
}
