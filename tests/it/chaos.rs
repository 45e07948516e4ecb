//! Chaos, bounded and self-stopping: servers SIGKILLed at seeded random moments while turns
//! run, and `agent-host kill` racing the natural end of many short turns. After each, every
//! promise is checked: each turn ended once, with the status its mode promises; each
//! subscriber got one `turn/completed` per turn it followed to the end; each notice ran once;
//! nothing of a turn is left; `ps` never shows a turn running without a live runner.
//!
//! The seed is printed (in the output of a failing test); `CHAOS_SEED=N` replays one.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT, recorded_pids};
use crate::support::ops::{
    agent_host_json, notice_config, notice_ended, notice_starts, runs, turn_dir,
};
use crate::support::process::QUIET;
use crate::support::procs::{alive, assert_all_gone, scan};
use crate::support::{DEFAULT_TIMEOUT, Describe, Sandbox, ServerProcess, wait_until};

/// A small seeded generator (xorshift64*): the same seed, the same kill moments.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        println!("chaos seed: {seed} (replay with CHAOS_SEED={seed})");
        Rng(seed.max(1))
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Background turns that end on their own after a few spread-out messages.
const BACKGROUND: [(&str, &str); 3] = [
    (
        "bg0",
        "pid\nstart\nmessage one\nsleep 20\nmessage two\nsleep 20\nmessage three\ncomplete\n",
    ),
    (
        "bg1",
        "pid\nstart\nmessage one\nsleep 60\nmessage two\nsleep 60\nmessage three\ncomplete\n",
    ),
    (
        "bg2",
        "pid\nstart\nmessage one\nsleep 150\nmessage two\nsleep 150\nmessage three\ncomplete\n",
    ),
];
/// A foreground turn that runs until its server goes away.
const FOREGROUND: (&str, &str) = ("fg", "pid\nstart\nmessage waiting\nsleep 600000\n");

const CYCLES: usize = 20;
const THREADS: usize = 5;
const BACKGROUND_PER_CYCLE: usize = 3;

/// One turn of a cycle.
struct Turn {
    id: String,
    thread: String,
    background: bool,
}

/// A client of the server of the moment, with its own request ids.
struct Client {
    server: ServerProcess,
    next_id: u64,
}

impl Client {
    /// A new server on the sandbox's state directory and configuration, initialized.
    fn start(sandbox: &Sandbox) -> Client {
        let mut server = Host::spawn(sandbox);
        server.initialize();
        Client { server, next_id: 1 }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let (response, _) = self.server.request(json!(self.next_id), method, params);
        assert!(response.get("result").is_some(), "{method}: {response}");
        response
    }

    /// How many `turn/completed` of `turn` this client has read.
    fn completions(&self, turn: &str) -> usize {
        self.server
            .wire()
            .iter()
            .filter(|r| {
                r.msg["method"] == "turn/completed" && r.msg["params"]["turn"]["id"] == turn
            })
            .count()
    }
}

#[test]
fn servers_killed_at_random_moments_break_no_promise() {
    let mut rng = Rng::seeded();
    let sandbox = Sandbox::new();
    let scripts: Vec<(&str, &str)> = BACKGROUND.iter().copied().chain([FOREGROUND]).collect();
    Host::write_config(
        &sandbox,
        &scripts,
        &notice_config("notify_foreground = true"),
    );
    let work = sandbox.work_dir();
    let mut client = Client::start(&sandbox);
    let cwd = work.display().to_string();
    let threads: Vec<String> = (0..THREADS)
        .map(|_| {
            let started = client.request("thread/start", json!({"cwd": cwd}));
            started["result"]["thread"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut notices = 0;
    let mut followed_background = 0;
    for cycle in 0..CYCLES {
        let (turns, killed) = start_and_kill(client, &threads, &mut rng);
        check_ps_right_after_the_kill(&sandbox.state_dir(), cycle);
        let mut next = Client::start(&sandbox);
        let followed = resume_all(&mut next, &threads);
        followed_background += turns
            .iter()
            .filter(|t| t.background && followed.contains(&t.id))
            .count();
        for turn in &turns {
            let following = followed.contains(&turn.id);
            check_turn(&sandbox, &killed, &mut next, turn, following, cycle);
        }
        notices += turns.len();
        assert_eq!(
            runs(&work).len(),
            notices,
            "cycle {cycle}: one run per turn so far"
        );
        check_nothing_left(&sandbox, &turns, cycle);
        client = next;
    }
    println!("{notices} turns; {followed_background} background turns outlived their server");
}

/// Starts one turn per thread (the first `BACKGROUND_PER_CYCLE` in the background) and
/// SIGKILLs the server at a random moment: after some of the starts, or after some of the
/// background turns' messages. Returns the turns started and the killed server's client.
fn start_and_kill(mut client: Client, threads: &[String], rng: &mut Rng) -> (Vec<Turn>, Client) {
    let messages = (BACKGROUND_PER_CYCLE * 3) as u64;
    let moment = rng.below(THREADS as u64 + messages);
    let mut turns = Vec::new();
    for (i, thread) in threads.iter().enumerate() {
        if moment < THREADS as u64 && i as u64 > moment {
            break;
        }
        let background = i < BACKGROUND_PER_CYCLE;
        let script = if background {
            BACKGROUND[rng.below(BACKGROUND.len() as u64) as usize].0
        } else {
            FOREGROUND.0
        };
        let response = client.request(
            "turn/start",
            json!({"threadId": thread, "background": background,
                   "input": [{"type": "text", "text": format!("script:{script}")}]}),
        );
        let id = response["result"]["turn"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        turns.push(Turn {
            id,
            thread: thread.clone(),
            background,
        });
    }
    if moment >= THREADS as u64 {
        wait_background_messages(&mut client, &turns, (moment - THREADS as u64) as usize);
    }
    client.server.kill();
    assert!(
        client.server.wait_exit(DEFAULT_TIMEOUT).is_some(),
        "the server died"
    );
    (turns, client)
}

/// Reads until the background turns' agent messages number `wanted`.
fn wait_background_messages(client: &mut Client, turns: &[Turn], wanted: usize) {
    let background: Vec<&str> = turns
        .iter()
        .filter(|t| t.background)
        .map(|t| t.id.as_str())
        .collect();
    let said = |client: &Client| {
        client
            .server
            .wire()
            .iter()
            .filter(|r| {
                r.msg["method"] == "item/completed"
                    && r.msg["params"]["item"]["type"] == "agentMessage"
                    && background.iter().any(|id| r.msg["params"]["turnId"] == *id)
            })
            .count()
    };
    while said(client) < wanted {
        client
            .server
            .recv_json(TURN_TIMEOUT)
            .unwrap_or_else(|err| panic!("waiting for message {wanted}: {err:?}"));
    }
}

/// Right after the kill, before any server runs: no turn is shown running without a live
/// runner, and none is lost (killing a server loses no runner).
fn check_ps_right_after_the_kill(state: &Path, cycle: usize) {
    let rows = agent_host_json(state, &["ps", "--json"]);
    for row in rows.as_array().unwrap() {
        assert_eq!(row["status"], "running", "cycle {cycle}: {row}");
        assert_eq!(row["runner"]["alive"], true, "cycle {cycle}: {row}");
    }
}

/// Resumes every thread on the new server; returns the turns it found running (which it
/// then follows to their end).
fn resume_all(client: &mut Client, threads: &[String]) -> Vec<String> {
    let mut active = Vec::new();
    for thread in threads {
        let resumed = client.request(
            "thread/resume",
            json!({"threadId": thread, "includeTurns": true}),
        );
        let thread_value = &resumed["result"]["thread"];
        if thread_value["status"]["type"] == "active" {
            let turns = thread_value["turns"].as_array().unwrap();
            let last = turns.last().unwrap_or_else(|| panic!("{resumed}"));
            active.push(last["id"].as_str().unwrap().to_owned());
        }
    }
    active
}

/// One turn after the kill: its end, its completions on both servers, its notice.
fn check_turn(
    sandbox: &Sandbox,
    killed: &Client,
    next: &mut Client,
    turn: &Turn,
    followed: bool,
    cycle: usize,
) {
    let context = || {
        format!(
            "cycle {cycle}, turn {} (background {})",
            turn.id, turn.background
        )
    };
    let dir = turn_dir(&sandbox.state_dir(), &turn.thread, &turn.id);
    let exit = dir.join("exit.json");
    let record: Value = wait_until(
        TURN_TIMEOUT,
        Describe(|| format!("the end of {}", context())),
        || serde_json::from_slice(&std::fs::read(&exit).ok()?).ok(),
    );
    let expected = if turn.background {
        "completed"
    } else {
        "interrupted"
    };
    assert_eq!(record["status"], expected, "{}: {record}", context());
    let ended = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(ended.matches("\"turnEnded\"").count() <= 1, "{}", context());
    assert!(
        killed.completions(&turn.id) <= 1,
        "{}: the killed server",
        context()
    );
    if followed {
        // Exactly one, last among the turn's notifications; it may have come before the
        // answers of the later resumes, so the whole wire is looked at.
        let done = next
            .server
            .check_turn_ended_once(&turn.id, TURN_TIMEOUT, QUIET)
            .unwrap_or_else(|err| panic!("{}: {err}", context()));
        assert_eq!(done["params"]["turn"]["status"], expected, "{}", context());
    }
    let notice = notice_ended(&dir);
    assert_eq!(
        notice["result"]["outcome"],
        "exited",
        "{}: {notice}",
        context()
    );
    assert_eq!(
        notice_starts(&dir),
        1,
        "{}: one start of the notice",
        context()
    );
    let ran: Vec<_> = runs(&sandbox.work_dir())
        .into_iter()
        .filter(|r| r.turn == turn.id)
        .collect();
    assert_eq!(ran.len(), 1, "{}: {ran:?}", context());
    assert_eq!(ran[0].status, expected, "{}", context());
    if !followed {
        assert_eq!(
            next.completions(&turn.id),
            0,
            "{}: not followed, not completed",
            context()
        );
    }
}

/// No process of the cycle's turns is left: backends (recorded by the fake agent), runners,
/// notice programs, and nothing carrying a turn's marker.
fn check_nothing_left(sandbox: &Sandbox, turns: &[Turn], cycle: usize) {
    let mut recorded = recorded_pids(sandbox);
    for turn in turns {
        let dir = turn_dir(&sandbox.state_dir(), &turn.thread, &turn.id);
        let read = |name: &str| -> Value {
            serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
        };
        for who in [
            &read("process.json")["runner"],
            &read("notify.json")["program"],
        ] {
            recorded.push((
                who["pid"].as_i64().unwrap() as i32,
                who["startTime"].as_u64().unwrap(),
            ));
        }
    }
    assert_all_gone(&recorded, Duration::from_secs(10));
    let markers: Vec<String> = turns
        .iter()
        .map(|t| format!("AGENT_HOST_TURN={}\0", t.id))
        .collect();
    let marked: Vec<_> = scan()
        .into_iter()
        .filter(|p| alive(p.pid, p.start_time))
        .filter(|p| {
            let environ = std::fs::read(format!("/proc/{}/environ", p.pid)).unwrap_or_default();
            let environ = String::from_utf8_lossy(&environ);
            markers.iter().any(|m| environ.contains(m.as_str()))
        })
        .collect();
    assert!(
        marked.is_empty(),
        "cycle {cycle}: processes of the turns left: {marked:?}"
    );
}

/// Backends that end on their own after 0 to 64 ms of work, so that a kill lands on both
/// sides of the natural end.
const PACED: [(&str, &str); 5] = [
    ("paced0", "start\nmessage done\ncomplete\n"),
    ("paced1", "start\nmessage done\nsleep 4\ncomplete\n"),
    ("paced2", "start\nmessage done\nsleep 16\ncomplete\n"),
    ("paced3", "start\nmessage done\nsleep 32\ncomplete\n"),
    ("paced4", "start\nmessage done\nsleep 64\ncomplete\n"),
];

const RACE_TURNS: usize = 200;

#[test]
fn agent_host_kill_racing_the_natural_end_of_200_turns_ends_each_once_and_notifies_once() {
    let mut host = Host::fake_with_config(&PACED, &notice_config(""));
    let state = host.sandbox.state_dir();
    let mut rng = Rng::seeded();
    let mut turns = Vec::new();
    for round in 0..RACE_TURNS {
        let script = PACED[rng.below(PACED.len() as u64) as usize].0;
        let turn = host.start_script(script, json!({"background": true}));
        let kill = std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
            .args(["kill", &turn, "--state-dir"])
            .arg(&state)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run agent-host kill");
        host.server
            .wait_for(TURN_TIMEOUT, |m| {
                m["method"] == "turn/completed" && m["params"]["turn"]["id"] == turn
            })
            .unwrap_or_else(|(err, got)| panic!("round {round}: {err:?}: {got:#?}"));
        let output = kill.wait_with_output().unwrap();
        assert!(output.status.success(), "round {round}: {output:?}");
        let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
        turns.push((turn, printed["status"].as_str().unwrap().to_owned()));
    }
    // Exactly once on the wire, checked once for all: a request answered after a quiet
    // moment, then one completion per turn, last among its notifications.
    let last = turns.last().unwrap().0.clone();
    host.server
        .check_turn_ended_once(&last, TURN_TIMEOUT, crate::support::process::QUIET)
        .unwrap_or_else(|err| panic!("{err}"));
    let mut outcomes = BTreeMap::new();
    for (turn, printed) in &turns {
        let dir = host.turn_dir(turn);
        let exit: Value =
            serde_json::from_slice(&std::fs::read(dir.join("exit.json")).unwrap()).unwrap();
        let status = exit["status"].as_str().unwrap().to_owned();
        assert_eq!(&status, printed, "{turn}: kill printed the exit record");
        let log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        assert!(log.matches("\"turnEnded\"").count() <= 1, "{turn}: {log}");
        let on_wire: Vec<&Value> = host
            .server
            .wire()
            .iter()
            .map(|r| &r.msg)
            .filter(|m| m["method"] == "turn/completed" && m["params"]["turn"]["id"] == *turn)
            .collect();
        assert_eq!(on_wire.len(), 1, "{turn}: {on_wire:?}");
        assert_eq!(on_wire[0]["params"]["turn"]["status"], status.as_str());
        let notice = notice_ended(&dir);
        assert_eq!(notice["result"]["outcome"], "exited", "{turn}: {notice}");
        assert_eq!(notice_starts(&dir), 1, "{turn}");
        *outcomes.entry(status).or_insert(0) += 1;
    }
    let all_runs = runs(&host.sandbox.work_dir());
    assert_eq!(all_runs.len(), RACE_TURNS, "one notice run per turn");
    for (turn, status) in &turns {
        let of_turn: Vec<_> = all_runs.iter().filter(|r| r.turn == *turn).collect();
        assert_eq!(of_turn.len(), 1, "{turn}");
        assert_eq!(&of_turn[0].status, status);
    }
    assert!(
        outcomes.contains_key("completed") && outcomes.contains_key("interrupted"),
        "the race was hit both ways: {outcomes:?}"
    );
}
