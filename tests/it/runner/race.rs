//! A kill racing a natural exit always yields exactly one end, and the race is really hit:
//! the test runs until it has seen both outcomes (bounded) and fails if one never occurs.

use std::time::Duration;

use agent_host::events::{Mode, TurnStatus};

use super::Turn;

/// At most this many rounds per worker.
const MAX_ROUNDS: usize = 100;
const PARALLEL: usize = 2;
/// Each outcome seen this often ends a worker early.
const ENOUGH: usize = 5;

#[test]
fn kill_racing_natural_exit_ends_exactly_once() {
    let outcomes: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..PARALLEL)
            .map(|worker| {
                scope.spawn(move || {
                    let mut completed = 0;
                    let mut interrupted = 0;
                    for n in 0..MAX_ROUNDS {
                        if completed >= ENOUGH && interrupted >= ENOUGH {
                            break;
                        }
                        let turn = Turn::new("quick.txt", Mode::Background);
                        turn.launch();
                        // Alternate between killing at once and after the first event, to
                        // land on both sides of the natural exit.
                        if (n + worker) % 2 == 1 {
                            crate::support::wait_until(
                                Duration::from_secs(5),
                                "a first event",
                                || (!turn.events().is_empty()).then_some(()),
                            );
                        }
                        let exit =
                            agent_host::turn_control::stop(&turn.dir, Duration::from_secs(10))
                                .unwrap()
                                .expect("the turn ended");
                        let (checked, _) = turn.check_ended_once();
                        assert_eq!(exit, checked);
                        match exit.status {
                            TurnStatus::Completed => completed += 1,
                            TurnStatus::Interrupted => interrupted += 1,
                            TurnStatus::Failed => panic!("failed: {exit:?}"),
                        }
                    }
                    (completed, interrupted)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let completed: usize = outcomes.iter().map(|(c, _)| c).sum();
    let interrupted: usize = outcomes.iter().map(|(_, i)| i).sum();
    assert!(
        completed > 0 && interrupted > 0,
        "the race was not hit both ways: {completed} completed, {interrupted} interrupted"
    );
}
