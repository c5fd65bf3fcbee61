//! JUnit XML: what CI dashboards read. Each exercise is a test suite and
//! each invariant a test case, so a dashboard shows "locked-bank: final =
//! start" failing, not just "grading failed".

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{exercise_text, invariant_text};
use crate::judge::verdict::{ExerciseStatus, InvariantStatus, Session};

/// Renders the session as JUnit XML.
pub fn render(s: &Session) -> String {
    let mut report = Report::new("grader");
    for e in &s.exercises {
        let mut suite = TestSuite::new(format!("{:02} {}", e.number, e.slug));
        suite.add_property(("mode", e.mode.name()));
        suite.add_property(("runs", e.runs.to_string().as_str()));
        suite.add_property(("cpus", s.cpus.to_string().as_str()));
        if matches!(
            e.status,
            ExerciseStatus::BuildFailed | ExerciseStatus::Refused | ExerciseStatus::Missing
        ) || e.invariants.is_empty()
        {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(e.headline.clone().unwrap_or_default());
            status.set_description(exercise_text(e));
            let mut case = TestCase::new("builds", status);
            case.set_classname(e.slug);
            suite.add_test_case(case);
        }
        for inv in &e.invariants {
            let status = match inv.status {
                InvariantStatus::Passed => TestCaseStatus::success(),
                bad => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_type(if bad == InvariantStatus::Failed {
                        "failed"
                    } else {
                        "not-checked"
                    });
                    let message = match &inv.failure {
                        Some(f) => f.seen.clone(),
                        None => inv.unchecked_reason.clone().unwrap_or_default(),
                    };
                    st.set_message(message);
                    st.set_description(invariant_text(inv).unwrap_or_default());
                    st
                }
            };
            let mut case = TestCase::new(inv.name, status);
            case.set_classname(e.slug);
            case.add_property(("rate", inv.rate().as_str()));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    if !s.unknown.is_empty() || !s.errors.is_empty() || s.interrupted {
        let mut suite = TestSuite::new("grader");
        if s.interrupted {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_message("interrupted: these are the results of the runs that finished");
            suite.add_test_case(TestCase::new("session", st));
        }
        for u in &s.unknown {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_message(format!("unknown exercise `{u}`"));
            suite.add_test_case(TestCase::new(format!("exercise {u}"), st));
        }
        for e in &s.errors {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_message(e.clone());
            suite.add_test_case(TestCase::new("session", st));
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot write JUnit XML: {e} -->\n"))
}
