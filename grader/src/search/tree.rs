//! The tree of schedules, walked one preemption at a time.
//!
//! A schedule is named by its *prefix*: its choices up to the last one
//! that differs from the scheduler's default. Past the prefix the
//! scheduler never preempts, so the prefix alone replays the schedule.
//! The root is the empty prefix: the default schedule.
//!
//! A run of a prefix reports every choice point it met. Each other
//! process that could have run at a point past the prefix gives a child:
//! the run's choices up to that point, then that process. A child costs
//! its parent's preemptions, plus one if its new choice preempts. Every
//! schedule is reached once and only once: a child differs from its
//! parent only past the parent's prefix, so two paths never meet.
//!
//! Iterative context bounding walks the tree level by level: every
//! schedule with no preemption, then every one with one, and so on up to
//! the bound. The first level that holds a failing schedule gives the
//! fewest preemptions that break the program, and in that level the
//! shortest prefix is the counterexample shown ([`Node::key`]).

use std::collections::BTreeMap;

use course_report::Choice;

use super::reduce::Branch;

/// One schedule to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// How many of its choices preempt.
    pub preemptions: u32,
    /// Its choices up to the last one that is not the default.
    pub prefix: Vec<u8>,
    /// The branch it takes from its parent's run: the state there (see
    /// [`reduce`](super::reduce)) and its last choice. None for the root.
    pub branch: Option<Branch>,
}

impl Node {
    /// The default schedule.
    pub fn root() -> Node {
        Node {
            preemptions: 0,
            prefix: Vec::new(),
            branch: None,
        }
    }

    /// The order in which schedules are shown: fewest preemptions, then
    /// shortest prefix, then the choices themselves, so that a search
    /// shows the same counterexample however its runs were spread over
    /// threads.
    pub fn key(&self) -> (u32, usize, &[u8]) {
        (self.preemptions, self.prefix.len(), &self.prefix)
    }

    /// The schedules next to this one, from the choice points its run
    /// reported (and the state at each, if known): at each point past the
    /// prefix, each other process that could have run, if that costs at
    /// most `bound` preemptions.
    pub fn children(&self, choices: &[Choice], states: Option<&[u64]>, bound: u32) -> Vec<Node> {
        let mut out = Vec::new();
        for (i, point) in choices.iter().enumerate().skip(self.prefix.len()) {
            for alt in point.runnable_slots().filter(|&s| s != point.chosen) {
                let preemptions = self.preemptions + u32::from(point.preempts(alt));
                if preemptions > bound {
                    continue;
                }
                let mut prefix: Vec<u8> = choices[..i].iter().map(|c| c.chosen).collect();
                prefix.push(alt);
                out.push(Node {
                    preemptions,
                    prefix,
                    branch: states.and_then(|s| s.get(i)).map(|&f| (f, alt)),
                });
            }
        }
        out
    }

    /// The branches this schedule's run took itself, past its prefix: the
    /// state at each decision and the choice made there.
    pub fn taken(&self, choices: &[Choice], states: &[u64]) -> Vec<Branch> {
        choices
            .iter()
            .zip(states)
            .skip(self.prefix.len())
            .map(|(c, &f)| (f, c.chosen))
            .collect()
    }
}

/// How many of a run's choices preempted.
pub fn preemptions(choices: &[Choice]) -> u32 {
    choices.iter().filter(|c| c.preempts(c.chosen)).count() as u32
}

/// The shortest prefix that replays a run with these choices: its choices
/// up to the last one that was not the default.
pub fn minimal_prefix(choices: &[Choice]) -> Vec<u8> {
    let end = choices
        .iter()
        .rposition(|c| c.chosen != c.default)
        .map_or(0, |i| i + 1);
    choices[..end].iter().map(|c| c.chosen).collect()
}

/// Whether a run followed the prefix it was given: at each of its first
/// decisions it chose what the prefix asked (where that process could
/// run at all). A program that does not is not deterministic under the
/// scheduler, and the search cannot trust its tree.
pub fn followed(prefix: &[u8], choices: &[Choice]) -> bool {
    prefix
        .iter()
        .zip(choices)
        .all(|(&want, c)| c.chosen == want || !c.can_run(want))
}

/// The schedules still to run, by level (number of preemptions).
#[derive(Debug, Default)]
pub struct Frontier {
    levels: BTreeMap<u32, Vec<Node>>,
}

impl Frontier {
    /// A frontier holding the default schedule.
    pub fn new() -> Frontier {
        let mut f = Frontier::default();
        f.push(Node::root());
        f
    }

    /// Adds a schedule to its level.
    pub fn push(&mut self, node: Node) {
        self.levels.entry(node.preemptions).or_default().push(node);
    }

    /// Takes out the lowest level: its number and its schedules.
    pub fn pop_level(&mut self) -> Option<(u32, Vec<Node>)> {
        self.levels.pop_first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(running: Option<u8>, runnable: &[u8], default: u8, chosen: u8) -> Choice {
        Choice {
            at: 0,
            running,
            runnable: runnable.iter().fold(0, |m, &s| m | 1 << s),
            default,
            chosen,
            places: 0,
        }
    }

    #[test]
    fn children_branch_past_the_prefix_and_count_preemptions() {
        // Slot 1 runs and could go on, then blocks (slot 2 follows at no
        // cost), then slot 2 runs and could go on.
        let run = [
            point(Some(1), &[1, 2], 1, 1),
            point(Some(1), &[0, 2], 2, 2),
            point(Some(2), &[0, 2], 2, 2),
        ];
        let kids = Node::root().children(&run, None, 1);
        assert_eq!(
            kids,
            [
                Node {
                    preemptions: 1,
                    prefix: vec![2],
                    branch: None,
                },
                Node {
                    preemptions: 0,
                    prefix: vec![1, 0],
                    branch: None,
                },
                Node {
                    preemptions: 1,
                    prefix: vec![1, 2, 0],
                    branch: None,
                },
            ]
        );
        // With no preemption allowed, only the free choice is left.
        assert_eq!(Node::root().children(&run, None, 0).len(), 1);
        // With the states known, each child names its branch.
        let kids = Node::root().children(&run, Some(&[10, 11, 12]), 0);
        assert_eq!(kids[0].branch, Some((11, 0)));
        assert_eq!(
            Node::root().taken(&run, &[10, 11, 12]),
            [(10, 1), (11, 2), (12, 2)]
        );
        // A child's own run branches only past its prefix.
        let child = &Node::root().children(&run, None, 1)[1];
        assert_eq!(child.children(&run, None, 1).len(), 1);
    }

    #[test]
    fn a_run_is_named_by_its_choices_up_to_the_last_that_was_not_the_default() {
        let run = [
            point(Some(1), &[1, 2], 1, 2),
            point(Some(2), &[1, 2], 2, 2),
            point(Some(2), &[0, 2], 0, 0),
        ];
        assert_eq!(minimal_prefix(&run), [2]);
        assert_eq!(preemptions(&run), 1);
        assert!(followed(&[2, 2], &run));
        assert!(!followed(&[1], &run));
        assert_eq!(minimal_prefix(&run[1..]), Vec::<u8>::new());
    }

    #[test]
    fn levels_come_out_lowest_first() {
        let mut f = Frontier::new();
        f.push(Node {
            preemptions: 2,
            prefix: vec![1],
            branch: None,
        });
        f.push(Node {
            preemptions: 1,
            prefix: vec![2],
            branch: None,
        });
        assert_eq!(f.pop_level().unwrap().0, 0);
        assert_eq!(f.pop_level().unwrap().0, 1);
        assert_eq!(f.pop_level().unwrap().0, 2);
        assert!(f.pop_level().is_none());
    }
}
