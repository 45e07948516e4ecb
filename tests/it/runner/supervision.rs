//! The whole tree goes, whatever it forked, and foreground turns die with their server.

use std::time::Duration;

use agent_host::events::{Event, InterruptReason, Mode, TurnStatus};
use agent_host::process::identity;
use agent_host::runner::client;
use rustix::process::Signal;

use super::{GRACE, Turn, runtime, start_server, wait_all_dead};

/// Leader, child, setsid-ed grandchild that ignores SIGTERM, double-forked orphan.
const STUBBORN_TREE_PIDS: usize = 4;

#[test]
fn interrupt_kills_a_setsid_grandchild_that_ignores_sigterm() {
    let turn = Turn::new("stubborn-tree.txt", Mode::Background);
    let launched = turn.launch();
    let pids = turn.wait_pids(STUBBORN_TREE_PIDS);
    runtime()
        .block_on(client::interrupt(&turn.dir, InterruptReason::Client))
        .unwrap();
    // Bounded waits, not a timing claim (the ladder's speed is measured in benches/runner.rs).
    wait_all_dead(&pids, Duration::from_secs(10));
    let exit = turn.wait_exit(Duration::from_secs(5));
    assert_eq!(exit.status, TurnStatus::Interrupted, "{exit:?}");
    assert_eq!(exit.reason.as_str(), "client");
    let (_, events) = turn.check_ended_once();
    assert!(events.iter().any(|r| matches!(
        r.event,
        Event::InterruptRequested {
            reason: InterruptReason::Client
        }
    )));
    wait_all_dead(
        std::slice::from_ref(&launched.runner),
        Duration::from_secs(5),
    );
}

#[test]
fn foreground_turn_is_interrupted_when_its_server_is_sigkilled() {
    let turn = Turn::new("stubborn-tree.txt", Mode::Foreground);
    let (mut server, runner_pid) = start_server(&turn, "foreground");
    let pids = turn.wait_pids(STUBBORN_TREE_PIDS);
    let runner = identity::of_pid(runner_pid).unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    wait_all_dead(&pids, Duration::from_secs(10));
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Interrupted, "{exit:?}");
    assert_eq!(exit.reason.as_str(), "clientLost");
    turn.check_ended_once();
    wait_all_dead(&[runner], Duration::from_secs(5));
}

#[test]
fn background_turn_runs_to_completion_after_its_server_is_sigkilled() {
    let turn = Turn::new("slow.txt", Mode::Background);
    let (mut server, runner_pid) = start_server(&turn, "background");
    let runner = identity::of_pid(runner_pid).unwrap();
    turn.wait_pids(1);
    server.kill().unwrap();
    server.wait().unwrap();
    // Held at its gate, the turn was running when its server died, and still runs.
    assert!(
        identity::is_alive(&runner),
        "the runner died with its server"
    );
    assert!(
        client::read_exit_record(&turn.dir).unwrap().is_none(),
        "the turn ended with its server"
    );
    turn.release("go");
    let exit = turn.wait_exit(Duration::from_secs(15));
    assert_eq!(exit.status, TurnStatus::Completed, "{exit:?}");
    let (_, events) = turn.check_ended_once();
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|r| match &r.event {
            Event::ItemCompleted { item } => item["text"].as_str(),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["working", "done"]);
    assert!(
        events
            .iter()
            .any(|r| matches!(r.event, Event::Marker { .. }))
    );
    assert!(events.iter().any(|r| matches!(
        r.event,
        Event::BackendExited {
            exit_code: Some(0),
            ..
        }
    )));
    wait_all_dead(&[runner], Duration::from_secs(5));
}

#[test]
fn backend_exit_sweeps_what_it_left_behind() {
    // The leader exits on its own while its tree (and a SIGTERM-ignoring grandchild) lives on.
    let turn = Turn::new("stubborn-tree.txt", Mode::Background);
    turn.launch();
    let pids = turn.wait_pids(STUBBORN_TREE_PIDS);
    // Kill the leader only, by its verified identity (its pid is the first written).
    identity::signal(&pids[0], Signal::KILL).unwrap();
    let grace = Duration::from_millis(GRACE.1);
    wait_all_dead(&pids, grace + Duration::from_secs(2));
    let exit = turn.wait_exit(Duration::from_secs(5));
    assert_eq!(exit.status, TurnStatus::Failed, "{exit:?}");
    assert_eq!(exit.signal, Some(9));
    assert_eq!(exit.reason.as_str(), "exitedWithoutMarker");
    turn.check_ended_once();
}

#[test]
fn sigterm_to_the_runner_interrupts_the_turn_instead_of_abandoning_it() {
    let turn = Turn::new("stubborn-tree.txt", Mode::Background);
    let launched = turn.launch();
    let pids = turn.wait_pids(STUBBORN_TREE_PIDS);
    identity::signal(&launched.runner, Signal::TERM).unwrap();
    let grace = Duration::from_millis(GRACE.0 + GRACE.1);
    wait_all_dead(&pids, grace + Duration::from_secs(1));
    let exit = turn.wait_exit(Duration::from_secs(5));
    assert_eq!(exit.status, TurnStatus::Interrupted, "{exit:?}");
    assert_eq!(exit.reason.as_str(), "kill");
    // The backend itself got the cancel signal (SIGINT), so its signal mask was clean.
    assert_eq!(exit.signal, Some(2), "{exit:?}");
    turn.check_ended_once();
}
