//! The end of a turn's processes as one phase: the interrupt ladder (the backend's own
//! cancel, then SIGTERM to every process of the turn, then SIGKILL, reap, sweep) and the same
//! sweep after the leader exits on its own.
//!
//! Like watchexec's child state, the state is an explicit enum ([`Phase`]) and every
//! transition is a method of [`Ladder`]. The process work of a step goes through
//! [`Effects`], so the transitions are tested without processes; the supervisor's
//! implementation signals and scans the turn's real tree.

use std::io;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::events::InterruptReason;
use crate::spec::GraceMs;

/// How long to wait for stdout EOF once no process of the turn is left.
pub const EOF_GRACE: Duration = Duration::from_secs(1);
/// How often the tree is polled while it is being swept.
pub const SWEEP_POLL: Duration = Duration::from_millis(5);

/// Where the turn's processes are on their way to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing is being stopped.
    Running,
    /// The backend's own cancel went out at `since`; SIGTERM follows `graceMs.cancel` later,
    /// or as soon as the leader exits.
    Cancelling { since: Instant },
    /// SIGTERM went to every process of the turn at `since`; SIGKILL follows `graceMs.term`
    /// later, unless nothing is left before.
    Terminating { since: Instant },
    /// SIGKILL went to every process of the turn; the leader's exit and the sweep follow.
    Killing,
    /// No process of the turn is left since `at` (or nothing stronger than SIGKILL exists):
    /// the turn ends once the backend's stdout is drained, or [`EOF_GRACE`] after `at`.
    Swept { at: Instant },
}

/// The backend leader: running (its waiter thread reaps it), or reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leader {
    Running,
    Exited(LeaderExit),
}

/// How the backend leader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl LeaderExit {
    /// An exit whose status could not be read.
    pub const UNKNOWN: LeaderExit = LeaderExit {
        code: None,
        signal: None,
    };

    pub fn from_status(status: &io::Result<ExitStatus>) -> LeaderExit {
        use std::os::unix::process::ExitStatusExt;
        match status {
            Ok(status) => LeaderExit {
                code: status.code(),
                signal: status.signal(),
            },
            Err(_) => LeaderExit::UNKNOWN,
        }
    }

    /// How the leader ended, in words.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("was killed by signal {signal}"),
            (None, None) => "ended with an unknown status".to_owned(),
        }
    }
}

/// When the interrupt was asked relative to the end marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptOrder {
    BeforeMarker,
    AfterMarker,
}

/// Why the ladder was started (once per turn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// An interrupt: the client's, a lost client's, or `kill`'s.
    Interrupt {
        reason: InterruptReason,
        order: InterruptOrder,
    },
    /// The backend did not exit within `graceMs.markerExit` of its end marker.
    MarkerExitTimeout,
}

/// What is left of the turn's processes after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    Nothing,
    Some,
    /// The processes could not be looked for (`/proc` unreadable): nothing is proven gone.
    Unknown,
}

/// Which of the runner's zombie children a step may reap: while the leader runs, its waiter
/// thread reaps it, so a step must leave it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reap {
    AllButLeader,
    All,
}

/// Whether the backend's stdout has been read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    Open,
    Drained,
}

/// The process work of the ladder's steps.
pub trait Effects {
    /// SIGTERM to every live process of the turn (reaping its zombies first).
    fn terminate(&mut self, reap: Reap) -> Left;
    /// SIGKILL to every process of the turn until none is left, within a bounded time.
    fn kill(&mut self, reap: Reap) -> Left;
    /// Reaps the turn's zombies and looks for a live process of the turn.
    fn scan(&mut self) -> Left;
}

/// The grace periods of the ladder, from the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Grace {
    cancel: Duration,
    term: Duration,
    marker_exit: Duration,
}

/// The phase of the turn's processes with what decides its transitions.
#[derive(Debug, Clone)]
pub struct Ladder {
    phase: Phase,
    leader: Leader,
    stop: Option<Stop>,
    /// When the backend's end marker was seen.
    marker_at: Option<Instant>,
    grace: Grace,
}

impl Ladder {
    pub fn new(grace: &GraceMs) -> Ladder {
        Ladder {
            phase: Phase::Running,
            leader: Leader::Running,
            stop: None,
            marker_at: None,
            grace: Grace {
                cancel: Duration::from_millis(grace.cancel),
                term: Duration::from_millis(grace.term),
                marker_exit: Duration::from_millis(grace.marker_exit),
            },
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn leader(&self) -> Leader {
        self.leader
    }

    /// The leader's exit, once it was reaped.
    pub fn leader_exit(&self) -> Option<LeaderExit> {
        match self.leader {
            Leader::Running => None,
            Leader::Exited(exit) => Some(exit),
        }
    }

    /// Why the ladder was started, if it was.
    pub fn stop(&self) -> Option<Stop> {
        self.stop
    }

    /// True once an interrupt started the ladder.
    pub fn interrupting(&self) -> bool {
        matches!(self.stop, Some(Stop::Interrupt { .. }))
    }

    /// The backend's end marker was seen at `now` (the first one counts).
    pub fn marker_seen(&mut self, now: Instant) {
        self.marker_at.get_or_insert(now);
    }

    /// An interrupt: starts the ladder and returns true when the caller must now send the
    /// backend's own cancel. One that comes while the processes are already being stopped,
    /// or after the leader exited, is acknowledged and changes nothing.
    pub fn interrupt(&mut self, reason: InterruptReason, now: Instant) -> bool {
        match (self.phase, self.leader, self.stop) {
            (Phase::Running, Leader::Running, None) => {}
            _ => return false,
        }
        let order = match self.marker_at {
            Some(_) => InterruptOrder::AfterMarker,
            None => InterruptOrder::BeforeMarker,
        };
        self.stop = Some(Stop::Interrupt { reason, order });
        self.phase = Phase::Cancelling { since: now };
        true
    }

    /// The leader was reaped: what it left behind is stopped now (a ladder under way goes on
    /// from its current rung, skipping the rest of the cancel's grace).
    pub fn leader_exited(&mut self, exit: LeaderExit, now: Instant, effects: &mut impl Effects) {
        self.leader = Leader::Exited(exit);
        match self.phase {
            Phase::Running | Phase::Cancelling { .. } => self.terminate(now, effects),
            Phase::Terminating { .. } | Phase::Killing | Phase::Swept { .. } => {}
        }
    }

    /// Records the leader's exit without taking a step: for the runner's emergency stop,
    /// which kills everything itself.
    pub fn note_leader_exit(&mut self, exit: LeaderExit) {
        self.leader = Leader::Exited(exit);
    }

    /// Takes the step that is due at `now`, then, once the leader is gone, looks whether
    /// anything of the turn is left.
    pub fn on_time(&mut self, now: Instant, effects: &mut impl Effects) {
        match self.phase {
            Phase::Running if self.marker_exit_due(now) => {
                tracing::warn!("the backend did not exit after its end marker; stopping it");
                self.stop = Some(Stop::MarkerExitTimeout);
                self.terminate(now, effects);
            }
            Phase::Cancelling { since } if now >= since + self.grace.cancel => {
                self.terminate(now, effects);
            }
            Phase::Terminating { since } if now >= since + self.grace.term => {
                self.kill(now, effects);
            }
            Phase::Running
            | Phase::Cancelling { .. }
            | Phase::Terminating { .. }
            | Phase::Killing
            | Phase::Swept { .. } => {}
        }
        if matches!(self.leader, Leader::Exited(_)) && !matches!(self.phase, Phase::Swept { .. }) {
            self.look_for_leftovers(now, effects);
        }
    }

    /// The next instant at which [`Ladder::on_time`] has something to do, if any.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let exited = matches!(self.leader, Leader::Exited(_));
        match self.phase {
            Phase::Running => self
                .marker_at
                .filter(|_| self.stop.is_none())
                .map(|at| at + self.grace.marker_exit),
            Phase::Cancelling { since } => Some(since + self.grace.cancel),
            Phase::Terminating { since } if exited => {
                Some((since + self.grace.term).min(now + SWEEP_POLL))
            }
            Phase::Terminating { since } => Some(since + self.grace.term),
            Phase::Killing if exited => Some(now + SWEEP_POLL),
            Phase::Killing => None,
            Phase::Swept { at } => Some(at + EOF_GRACE),
        }
    }

    /// True when the turn may end: its processes are swept and its stdout drained (or the
    /// drain's grace is over).
    pub fn finished(&self, stdout: Stdout, now: Instant) -> bool {
        match self.phase {
            Phase::Swept { at } => stdout == Stdout::Drained || now >= at + EOF_GRACE,
            Phase::Running
            | Phase::Cancelling { .. }
            | Phase::Terminating { .. }
            | Phase::Killing => false,
        }
    }

    fn marker_exit_due(&self, now: Instant) -> bool {
        self.leader == Leader::Running
            && self.stop.is_none()
            && self
                .marker_at
                .is_some_and(|at| now >= at + self.grace.marker_exit)
    }

    fn reap(&self) -> Reap {
        match self.leader {
            Leader::Running => Reap::AllButLeader,
            Leader::Exited(_) => Reap::All,
        }
    }

    /// SIGTERM rung.
    fn terminate(&mut self, now: Instant, effects: &mut impl Effects) {
        let left = effects.terminate(self.reap());
        self.phase = match (left, self.leader) {
            (Left::Nothing, Leader::Exited(_)) => Phase::Swept { at: now },
            (Left::Nothing | Left::Some | Left::Unknown, _) => Phase::Terminating { since: now },
        };
    }

    /// SIGKILL rung.
    fn kill(&mut self, now: Instant, effects: &mut impl Effects) {
        let left = effects.kill(self.reap());
        self.phase = match (left, self.leader) {
            // Nothing stronger exists (a process stuck in the kernel): end the turn anyway
            // rather than never.
            (Left::Some | Left::Unknown, Leader::Exited(_)) => Phase::Swept { at: now },
            (Left::Nothing, _) | (Left::Some | Left::Unknown, Leader::Running) => Phase::Killing,
        };
    }

    /// After the leader exited: the turn is swept once none of its processes is left. A
    /// tree that cannot be looked at proves nothing gone: the kill rung ends the turn.
    fn look_for_leftovers(&mut self, now: Instant, effects: &mut impl Effects) {
        match (effects.scan(), self.phase) {
            (Left::Nothing, _) => self.phase = Phase::Swept { at: now },
            (Left::Unknown, Phase::Running | Phase::Killing) => {
                self.phase = Phase::Terminating { since: now };
            }
            (Left::Some, _) | (Left::Unknown, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Effects that record each step and answer from a script.
    #[derive(Default)]
    struct Script {
        steps: Vec<String>,
        left_after_term: Option<Left>,
        left_after_kill: Option<Left>,
        left_on_scan: Option<Left>,
    }

    impl Effects for Script {
        fn terminate(&mut self, reap: Reap) -> Left {
            self.steps.push(format!("term {reap:?}"));
            self.left_after_term.unwrap_or(Left::Some)
        }
        fn kill(&mut self, reap: Reap) -> Left {
            self.steps.push(format!("kill {reap:?}"));
            self.left_after_kill.unwrap_or(Left::Nothing)
        }
        fn scan(&mut self) -> Left {
            self.steps.push("scan".to_owned());
            self.left_on_scan.unwrap_or(Left::Some)
        }
    }

    const GRACE: GraceMs = GraceMs {
        cancel: 100,
        term: 200,
        marker_exit: 1000,
    };
    const EXITED: LeaderExit = LeaderExit {
        code: Some(0),
        signal: None,
    };

    fn ms(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn an_interrupt_climbs_cancel_term_kill_then_sweeps_after_the_leader_exits() {
        let t0 = Instant::now();
        let mut ladder = Ladder::new(&GRACE);
        let mut fx = Script::default();
        assert!(ladder.interrupt(InterruptReason::Client, t0));
        assert_eq!(ladder.phase(), Phase::Cancelling { since: t0 });
        assert_eq!(ladder.next_deadline(t0), Some(ms(t0, 100)));
        ladder.on_time(ms(t0, 99), &mut fx);
        assert!(fx.steps.is_empty(), "{:?}", fx.steps);

        ladder.on_time(ms(t0, 100), &mut fx);
        assert_eq!(ladder.phase(), Phase::Terminating { since: ms(t0, 100) });
        assert_eq!(ladder.next_deadline(ms(t0, 100)), Some(ms(t0, 300)));
        ladder.on_time(ms(t0, 300), &mut fx);
        assert_eq!(ladder.phase(), Phase::Killing);
        assert_eq!(ladder.next_deadline(ms(t0, 300)), None);
        assert_eq!(fx.steps, ["term AllButLeader", "kill AllButLeader"]);

        ladder.leader_exited(EXITED, ms(t0, 301), &mut fx);
        assert_eq!(ladder.phase(), Phase::Killing);
        fx.left_on_scan = Some(Left::Nothing);
        ladder.on_time(ms(t0, 302), &mut fx);
        assert_eq!(ladder.phase(), Phase::Swept { at: ms(t0, 302) });
        assert!(!ladder.finished(Stdout::Open, ms(t0, 302)));
        assert!(ladder.finished(Stdout::Drained, ms(t0, 302)));
        assert!(ladder.finished(Stdout::Open, ms(t0, 302) + EOF_GRACE));
        assert_eq!(
            ladder.stop(),
            Some(Stop::Interrupt {
                reason: InterruptReason::Client,
                order: InterruptOrder::BeforeMarker
            })
        );
    }

    #[test]
    fn a_leader_that_exits_while_cancelling_skips_to_term_and_a_clean_tree_is_swept() {
        let t0 = Instant::now();
        let mut ladder = Ladder::new(&GRACE);
        let mut fx = Script {
            left_after_term: Some(Left::Nothing),
            ..Script::default()
        };
        assert!(ladder.interrupt(InterruptReason::Kill, t0));
        ladder.leader_exited(EXITED, ms(t0, 10), &mut fx);
        assert_eq!(fx.steps, ["term All"]);
        assert_eq!(ladder.phase(), Phase::Swept { at: ms(t0, 10) });
        assert_eq!(ladder.leader_exit(), Some(EXITED));
    }

    #[test]
    fn a_natural_exit_with_leftovers_terminates_them_then_kills_after_the_grace() {
        let t0 = Instant::now();
        let mut ladder = Ladder::new(&GRACE);
        let mut fx = Script::default();
        ladder.leader_exited(EXITED, t0, &mut fx);
        assert_eq!(ladder.phase(), Phase::Terminating { since: t0 });
        assert_eq!(ladder.stop(), None);
        // Polled while it waits for the leftovers to go.
        assert_eq!(ladder.next_deadline(t0), Some(t0 + SWEEP_POLL));
        ladder.on_time(ms(t0, 50), &mut fx);
        assert_eq!(ladder.phase(), Phase::Terminating { since: t0 });
        ladder.on_time(ms(t0, 200), &mut fx);
        assert_eq!(fx.steps, ["term All", "scan", "kill All", "scan"]);
        assert_eq!(ladder.phase(), Phase::Killing);
    }

    #[test]
    fn survivors_of_sigkill_end_the_turn_once_the_leader_is_gone() {
        let t0 = Instant::now();
        let mut ladder = Ladder::new(&GRACE);
        let mut fx = Script {
            left_after_kill: Some(Left::Some),
            ..Script::default()
        };
        ladder.leader_exited(EXITED, t0, &mut fx);
        ladder.on_time(ms(t0, 200), &mut fx);
        assert_eq!(ladder.phase(), Phase::Swept { at: ms(t0, 200) });
    }

    #[test]
    fn an_unreadable_tree_after_the_leader_exited_still_reaches_the_kill_rung() {
        let t0 = Instant::now();
        let mut ladder = Ladder::new(&GRACE);
        let mut fx = Script {
            left_after_term: Some(Left::Nothing),
            left_on_scan: Some(Left::Unknown),
            ..Script::default()
        };
        assert!(ladder.interrupt(InterruptReason::Client, t0));
        ladder.on_time(ms(t0, 100), &mut fx);
        ladder.on_time(ms(t0, 300), &mut fx);
        assert_eq!(ladder.phase(), Phase::Killing);
        ladder.leader_exited(EXITED, ms(t0, 301), &mut fx);
        ladder.on_time(ms(t0, 302), &mut fx);
        assert_eq!(ladder.phase(), Phase::Terminating { since: ms(t0, 302) });
        fx.left_after_kill = Some(Left::Unknown);
        ladder.on_time(ms(t0, 502), &mut fx);
        assert_eq!(ladder.phase(), Phase::Swept { at: ms(t0, 502) });
    }

    #[test]
    fn a_backend_that_outstays_its_marker_is_stopped_and_an_interrupt_then_changes_nothing() {
        let t0 = Instant::now();
        let mut ladder = Ladder::new(&GRACE);
        let mut fx = Script::default();
        ladder.marker_seen(t0);
        ladder.marker_seen(ms(t0, 500));
        assert_eq!(ladder.next_deadline(t0), Some(ms(t0, 1000)));
        ladder.on_time(ms(t0, 999), &mut fx);
        assert_eq!(ladder.phase(), Phase::Running);
        ladder.on_time(ms(t0, 1000), &mut fx);
        assert_eq!(ladder.stop(), Some(Stop::MarkerExitTimeout));
        assert_eq!(
            ladder.phase(),
            Phase::Terminating {
                since: ms(t0, 1000)
            }
        );
        assert!(!ladder.interrupt(InterruptReason::Client, ms(t0, 1001)));
        assert!(!ladder.interrupting());
        assert_eq!(fx.steps, ["term AllButLeader"]);
    }

    #[test]
    fn an_interrupt_after_the_marker_or_the_leader_exit_is_told_apart() {
        let t0 = Instant::now();
        let mut ladder = Ladder::new(&GRACE);
        ladder.marker_seen(t0);
        assert!(ladder.interrupt(InterruptReason::ClientLost, t0));
        assert!(ladder.interrupting());
        assert_eq!(
            ladder.stop(),
            Some(Stop::Interrupt {
                reason: InterruptReason::ClientLost,
                order: InterruptOrder::AfterMarker
            })
        );
        // A second interrupt is acknowledged and changes nothing.
        assert!(!ladder.interrupt(InterruptReason::Kill, ms(t0, 1)));
        assert_eq!(ladder.phase(), Phase::Cancelling { since: t0 });

        let mut gone = Ladder::new(&GRACE);
        gone.leader_exited(EXITED, t0, &mut Script::default());
        assert!(!gone.interrupt(InterruptReason::Client, ms(t0, 1)));
        assert_eq!(gone.stop(), None);
    }
}
