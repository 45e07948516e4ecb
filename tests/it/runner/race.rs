//! A kill racing a natural exit always yields exactly one end.

use std::time::{Duration, Instant};

use agent_host::events::{Mode, TurnStatus};

use super::Turn;

const REPETITIONS: usize = 200;
const PARALLEL: usize = 2;

#[test]
fn kill_racing_natural_exit_ends_exactly_once() {
    let started = Instant::now();
    let outcomes: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..PARALLEL)
            .map(|worker| {
                scope.spawn(move || {
                    let mut completed = 0;
                    let mut interrupted = 0;
                    for n in 0..REPETITIONS / PARALLEL {
                        let turn = Turn::new("quick.txt", Mode::Background);
                        turn.launch();
                        // Alternate between killing at once and after the first event, to
                        // land on both sides of the natural exit.
                        if (n + worker) % 2 == 1 {
                            super::wait_for(Duration::from_secs(5), "a first event", || {
                                (!turn.events().is_empty()).then_some(())
                            });
                        }
                        let exit = agent_host::kill::stop(&turn.dir, Duration::from_secs(10))
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
    let total: usize = outcomes.iter().map(|(c, i)| c + i).sum();
    assert_eq!(total, REPETITIONS);
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
}
