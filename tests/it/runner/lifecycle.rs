//! Turns that end on their own: statuses, the event stream, stdin prompts, subscriptions.

use std::time::Duration;

use agent_host::events::{Event, Mode, TurnStatus};
use agent_host::runner::client;

use super::{Turn, runtime};

fn completed_texts(events: &[agent_host::events::EventRecord]) -> Vec<String> {
    events
        .iter()
        .filter_map(|r| match &r.event {
            Event::ItemCompleted { item } if item["type"] == "agentMessage" => {
                item["text"].as_str().map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_full_turn_completes_with_every_item_and_skips_bad_lines() {
    let turn = Turn::new("full-turn.txt", Mode::Background);
    turn.launch();
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Completed, "{exit:?}");
    assert_eq!(exit.exit_code, Some(0));
    let (_, events) = turn.check_ended_once();
    assert_eq!(
        completed_texts(&events),
        ["I will run a command first.", "Hello from the fake agent."]
    );
    let warnings = events
        .iter()
        .filter(|r| matches!(r.event, Event::Warning { .. }))
        .count();
    assert_eq!(
        warnings, 2,
        "the metadata warning and the skipped line: {events:?}"
    );
    for record in &events {
        if let Event::ItemStarted { item } | Event::ItemCompleted { item } = &record.event {
            let id = item["id"].as_str().unwrap();
            assert!(id.starts_with(&turn.turn_id), "{id}");
        }
    }
    let raw = std::fs::read_to_string(turn.dir.join("backend.stdout")).unwrap();
    assert!(raw.contains("this line is not JSON"));
}

#[test]
fn failure_marker_and_crash_without_marker_are_failed() {
    let failed = Turn::new("fail.txt", Mode::Background);
    failed.launch();
    let exit = failed.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Failed);
    assert_eq!(exit.error.unwrap().message, "upstream 500");
    failed.check_ended_once();

    let crashed = Turn::new("crash.txt", Mode::Background);
    crashed.launch();
    let exit = crashed.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Failed);
    assert_eq!(exit.reason.as_str(), "exitedWithoutMarker");
    assert_eq!(exit.signal, Some(9));
    crashed.check_ended_once();
}

#[test]
fn a_missing_backend_program_fails_the_turn_cleanly() {
    let turn = Turn::with("quick.txt", Mode::Background, super::GRACE, |spec| {
        spec["provider"]["command"] = "/nonexistent/agent".into();
    });
    let launched = turn.launch();
    assert!(launched.process.backend.is_none());
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Failed);
    assert_eq!(exit.reason.as_str(), "spawnFailed");
    let message = exit.error.map(|e| e.message).unwrap_or_default();
    assert!(
        message.starts_with("cannot start /nonexistent/agent: not found (is it installed")
            && message.contains("provider `"),
        "{message}"
    );
    turn.check_ended_once();
}

#[test]
fn a_missing_working_directory_is_named_when_the_backend_cannot_start() {
    let turn = Turn::with("quick.txt", Mode::Background, super::GRACE, |spec| {
        spec["cwd"] = "/nonexistent/work".into();
    });
    turn.launch();
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.reason.as_str(), "spawnFailed");
    let message = exit.error.map(|e| e.message).unwrap_or_default();
    assert!(
        message.ends_with("the turn's working directory /nonexistent/work does not exist"),
        "{message}"
    );
    turn.check_ended_once();
}

#[test]
fn prompt_via_stdin_is_written_then_closed() {
    let turn = Turn::with("stdin-prompt.txt", Mode::Background, super::GRACE, |spec| {
        spec["provider"]["promptVia"] = "stdin".into();
        spec["prompt"] = "from stdin".into();
    });
    turn.launch();
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Completed, "{exit:?}");
    let (_, events) = turn.check_ended_once();
    assert_eq!(completed_texts(&events), ["from stdin"]);
}

#[test]
fn stdout_closed_early_and_partial_last_line_still_end_once() {
    for script in ["stdout-closed.txt", "partial-last-line.txt"] {
        let turn = Turn::new(script, Mode::Background);
        turn.launch();
        let exit = turn.wait_exit(Duration::from_secs(10));
        assert_eq!(exit.status, TurnStatus::Completed, "{script}: {exit:?}");
        turn.check_ended_once();
    }
}

#[test]
fn subscribe_live_then_after_the_end_yields_the_same_records() {
    let turn = Turn::new("slow.txt", Mode::Background);
    turn.launch();
    let rt = runtime();
    let live: Vec<_> = rt.block_on(async {
        let mut rx = client::subscribe(&turn.dir, 1).await.unwrap();
        turn.release("go");
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while let Ok(Some(item)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            got.push(item.unwrap());
        }
        got
    });
    let (_, events) = turn.check_ended_once();
    assert_eq!(live, events);
    // After the end (runner gone, socket removed) the files answer, from any seq.
    let replay: Vec<_> = rt.block_on(async {
        let mut rx = client::subscribe(&turn.dir, 3).await.unwrap();
        let mut got = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            got.push(item.unwrap());
        }
        got
    });
    assert_eq!(replay, events[2..]);
}

#[test]
fn a_turn_dir_too_long_for_sun_path_gets_a_short_socket() {
    let turn = Turn::new("slow.txt", Mode::Background);
    let long = turn.dir.join("x".repeat(120));
    std::fs::create_dir_all(&long).unwrap();
    std::fs::copy(turn.dir.join("spec.json"), long.join("spec.json")).unwrap();
    let launched = agent_host::runner::launch::launch_with(
        &agent_host::runner::launch::LaunchOptions {
            exe: super::AGENT_HOST.into(),
            ready_timeout: Duration::from_secs(10),
        },
        &long,
        Mode::Background,
        None,
        &turn.env(),
    )
    .unwrap();
    assert!(
        launched.process.socket.len() <= 100,
        "{}",
        launched.process.socket
    );
    assert!(
        !launched
            .process
            .socket
            .starts_with(&*long.to_string_lossy())
    );
    runtime()
        .block_on(client::interrupt(
            &long,
            agent_host::events::InterruptReason::Client,
        ))
        .unwrap();
    let exit = crate::support::wait_until(Duration::from_secs(10), "exit.json", || {
        client::read_exit_record(&long).unwrap()
    });
    assert_eq!(exit.status, TurnStatus::Interrupted);
}

#[test]
fn the_claude_kind_maps_a_stream_json_turn() {
    let turn = Turn::with("claude-turn.txt", Mode::Background, super::GRACE, |spec| {
        spec["provider"]["kind"] = "claude".into();
    });
    turn.launch();
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Completed, "{exit:?}");
    let (_, events) = turn.check_ended_once();
    assert_eq!(
        completed_texts(&events),
        ["I will run a command first.", "All done, it printed hi."]
    );
    assert!(events.iter().any(|r| matches!(
        &r.event,
        Event::BackendSession { session_id } if session_id == "c-session"
    )));
    assert!(events.iter().any(|r| matches!(
        &r.event,
        Event::ItemCompleted { item } if item["type"] == "commandExecution" && item["aggregatedOutput"] == "hi"
    )));
}

#[test]
fn a_backend_that_hangs_after_its_marker_is_stopped_and_the_marker_stands() {
    let turn = Turn::with(
        "marker-then-hang.txt",
        Mode::Background,
        super::GRACE,
        |spec| {
            spec["graceMs"]["markerExit"] = 200.into();
        },
    );
    turn.launch();
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Completed, "{exit:?}");
    assert_eq!(
        exit.signal,
        Some(15),
        "stopped by the SIGTERM rung: {exit:?}"
    );
    let (_, events) = turn.check_ended_once();
    assert_eq!(completed_texts(&events), ["the answer"]);
}

#[test]
fn a_flood_of_lines_is_logged_completely_and_in_order() {
    let turn = Turn::new("flood.txt", Mode::Background);
    turn.launch();
    let exit = turn.wait_exit(Duration::from_secs(30));
    assert_eq!(exit.status, TurnStatus::Completed, "{exit:?}");
    let (_, events) = turn.check_ended_once();
    let texts = completed_texts(&events);
    assert_eq!(texts.len(), 5000);
    assert_eq!(texts[4999], "flood line 4999");
}

#[test]
fn steer_and_approve_get_clear_refusals_from_one_shot_backends() {
    let turn = Turn::new("wait-forever.txt", Mode::Background);
    turn.launch();
    turn.wait_pids(1);
    let rt = runtime();
    let steer = rt
        .block_on(client::steer(
            &turn.dir,
            client::SteerInput {
                input: serde_json::json!([{"type": "text", "text": "more"}]),
                prompt: "more".to_owned(),
                user_message_id: "m".to_owned(),
                client_user_message_id: None,
            },
        ))
        .unwrap_err();
    assert!(
        steer.to_string().contains("does not accept input"),
        "{steer}"
    );
    let approve = rt
        .block_on(client::approve(
            &turn.dir,
            "r1",
            serde_json::json!("accept"),
        ))
        .unwrap_err();
    assert!(
        approve.to_string().contains("no pending approval"),
        "{approve}"
    );
    rt.block_on(client::interrupt(
        &turn.dir,
        agent_host::events::InterruptReason::Client,
    ))
    .unwrap();
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Interrupted);
    // Once the runner is gone, requests say so instead of hanging.
    crate::support::wait_until(Duration::from_secs(5), "the runner to exit", || {
        client::live_socket(&turn.dir).is_none().then_some(())
    });
    let late = rt
        .block_on(client::interrupt(
            &turn.dir,
            agent_host::events::InterruptReason::Client,
        ))
        .unwrap_err();
    assert_eq!(late.kind(), std::io::ErrorKind::NotConnected);
}

#[test]
fn launch_refuses_a_foreground_turn_without_lifeline_or_a_wrong_mode() {
    let options = agent_host::runner::launch::LaunchOptions {
        exe: super::AGENT_HOST.into(),
        ready_timeout: Duration::from_secs(10),
    };
    let foreground = Turn::new("quick.txt", Mode::Foreground);
    let err = agent_host::runner::launch::launch_with(
        &options,
        &foreground.dir,
        Mode::Foreground,
        None,
        &foreground.env(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = agent_host::runner::launch::launch_with(
        &options,
        &foreground.dir,
        Mode::Background,
        None,
        &foreground.env(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("spec.json says"), "{err}");
    assert!(
        !foreground.dir.join("process.json").exists(),
        "no runner was started"
    );
}
