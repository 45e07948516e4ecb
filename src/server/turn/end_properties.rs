//! Property tests of a turn's end (`proptest`): any interleaving of backend output,
//! interrupts, the backend's exit, client disconnects, server restarts and runner crashes
//! ends the turn with exactly one terminal status, every server that follows the turn to its
//! end sends exactly one `turn/completed` with that status and the exit record's time, and
//! what the servers were told live is what a restarted server reads back from the files.
//!
//! The runner is a model made of the runner's real parts: its backend output goes through
//! the real `jsonl` adapter, the interrupt ladder is the real [`Ladder`] (over a scripted
//! process tree), the end is the real [`decide`], the records go through the real
//! [`EventLog`] and [`write_end`]. Each server is a model of the real follower
//! (`follow.rs`): the real [`subscribe`] over the turn's files, the real [`translate`] of
//! each record, the end taken once as `finish_turn` takes it, and a lost runner ended through
//! the real [`crate::turn_control::stop`]; a restarted server reads the turn with the real
//! [`read_turn`], and recovery is the real [`recover_turn`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use uuid::Uuid;

use super::history::read_turn;
use super::translate::{Ended, Step, translate};
use super::{ActiveTurn, TURN_FILE, TurnRecord};
use crate::atomic_file;
use crate::backend::{Adapter, UsageBase, codex_jsonl};
use crate::events::{
    EndReason, Event, EventRecord, ExitRecord, InterruptReason, Mode, ProcessRecord,
    RECORD_VERSION, TurnStatus, now_ms,
};
use crate::process::identity::{self, Identity};
use crate::runner::client::{read_exit_record, subscribe};
use crate::runner::ladder::{Effects, Ladder, Leader, LeaderExit, Left, Reap, Stdout};
use crate::runner::log::{self, Durability, EventLog};
use crate::runner::supervisor::{Marker, decide, write_end};
use crate::runner::{EXIT_FILE, PROCESS_FILE};
use crate::server::recovery::recover_turn;
use crate::spec::GraceMs;

/// Cases per run: enough to mix every kind of step, few enough to run in seconds
/// (`PROPTEST_CASES=N` runs more).
const CASES: u32 = 48;
/// The longest interleaving generated.
const MAX_STEPS: usize = 24;
/// How long any wait of the test may take.
const WAIT: Duration = Duration::from_secs(20);
/// When the turn started, as its `turn.json` says.
const STARTED_AT_MS: i64 = 1_764_000_000_000;

/// One line of backend output in the codex `exec --json` format.
#[derive(Debug, Clone, Copy)]
enum Output {
    Message,
    RetryError,
    FinalError,
    Completed,
    Failed,
    Garbage,
}

impl Output {
    fn line(self) -> &'static str {
        match self {
            Output::Message => {
                r#"{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"hi"}}"#
            }
            Output::RetryError => r#"{"type":"error","message":"Reconnecting... 1/2"}"#,
            Output::FinalError => r#"{"type":"error","message":"the model is gone"}"#,
            Output::Completed => {
                r#"{"type":"turn.completed","usage":{"input_tokens":3,"cached_input_tokens":0,"output_tokens":2}}"#
            }
            Output::Failed => r#"{"type":"turn.failed","error":{"message":"it broke"}}"#,
            Output::Garbage => "not json",
        }
    }
}

/// Where the runner dies.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// Now, before it wrote anything of the end.
    Now,
    /// When it ends the turn: after `exit.json`, before the `turnEnded` record.
    BetweenExitFileAndRecord,
}

/// One step of an interleaving.
#[derive(Debug, Clone)]
enum Op {
    /// The backend prints a line.
    Output(Output),
    /// `turn/interrupt` (or `agent-host kill`) reaches the runner.
    Interrupt(InterruptReason),
    /// The backend process exits by itself: code 0, code 1, or killed by a signal.
    BackendExit(LeaderExit),
    /// The backend's stdout reaches its end.
    StdoutEof,
    /// Time passes (the ladder's grace periods and the marker's exit grace).
    Tick(u64),
    /// Every server that follows the turn catches up with the log.
    CatchUp,
    /// Another server loads the thread and follows the turn (`thread/resume`).
    Attach,
    /// The client of a server goes away and the server with it; the first server holds the
    /// lifeline of a foreground turn.
    Disconnect(usize),
    /// A server is killed and started again: it re-attaches from the files.
    Restart(usize),
    /// The runner dies.
    RunnerCrash(Crash),
}

fn op() -> impl Strategy<Value = Op> {
    let output = prop_oneof![
        Just(Output::Message),
        Just(Output::RetryError),
        Just(Output::FinalError),
        Just(Output::Completed),
        Just(Output::Failed),
        Just(Output::Garbage),
    ];
    let reason = prop_oneof![
        Just(InterruptReason::Client),
        Just(InterruptReason::ClientLost),
        Just(InterruptReason::Kill),
    ];
    let exit = prop_oneof![
        Just(LeaderExit {
            code: Some(0),
            signal: None
        }),
        Just(LeaderExit {
            code: Some(1),
            signal: None
        }),
        Just(LeaderExit {
            code: None,
            signal: Some(2)
        }),
    ];
    let crash = prop_oneof![Just(Crash::Now), Just(Crash::BetweenExitFileAndRecord)];
    prop_oneof![
        6 => output.prop_map(Op::Output),
        2 => reason.prop_map(Op::Interrupt),
        2 => exit.prop_map(Op::BackendExit),
        1 => Just(Op::StdoutEof),
        2 => (0u64..800).prop_map(Op::Tick),
        2 => Just(Op::CatchUp),
        1 => Just(Op::Attach),
        1 => (0usize..4).prop_map(Op::Disconnect),
        1 => (0usize..4).prop_map(Op::Restart),
        1 => crash.prop_map(Op::RunnerCrash),
    ]
}

/// The turn's process tree as the ladder's steps see it: the backend dies of the first
/// signal a step sends it; nothing of the turn outlives it.
#[derive(Debug, Default)]
struct Tree {
    leader_running: bool,
    /// The signal a step sent the running backend, which it dies of.
    signalled: Option<i32>,
}

impl Tree {
    fn signal(&mut self, reap: Reap, signal: i32) -> Left {
        match reap {
            Reap::AllButLeader if self.leader_running => {
                self.signalled.get_or_insert(signal);
                Left::Some
            }
            Reap::AllButLeader | Reap::All => Left::Nothing,
        }
    }
}

impl Effects for Tree {
    fn terminate(&mut self, reap: Reap) -> Left {
        self.signal(reap, 15)
    }

    fn kill(&mut self, reap: Reap) -> Left {
        self.signal(reap, 9)
    }

    fn scan(&mut self) -> Left {
        Left::Nothing
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunnerState {
    Running,
    Ended,
    Crashed,
}

/// The runner of the turn, made of the runner's own parts (see the module doc).
struct Runner {
    dir: PathBuf,
    mode: Mode,
    log: EventLog,
    adapter: Adapter,
    ladder: Ladder,
    tree: Tree,
    marker: Option<Marker>,
    stdout: Stdout,
    now: Instant,
    state: RunnerState,
    crash_in_end: bool,
}

impl Runner {
    fn start(dir: &Path, turn: Uuid, mode: Mode) -> Runner {
        write_process_record(dir, mode, identity::current().expect("our identity"));
        let mut log = EventLog::open(dir).expect("the event log");
        log.append(
            Event::RunnerStarted {
                runner_pid: std::process::id() as i32,
                backend_pid: 0,
                backend_pgid: 0,
            },
            Durability::Flushed,
        )
        .expect("append");
        let grace = GraceMs {
            cancel: 100,
            term: 100,
            marker_exit: 500,
        };
        Runner {
            dir: dir.to_owned(),
            mode,
            log,
            adapter: Adapter::CodexJsonl(codex_jsonl::Stream::new(
                &turn.to_string(),
                "/work",
                UsageBase::default(),
            )),
            ladder: Ladder::new(&grace),
            tree: Tree {
                leader_running: true,
                signalled: None,
            },
            marker: None,
            stdout: Stdout::Open,
            now: Instant::now(),
            state: RunnerState::Running,
            crash_in_end: false,
        }
    }

    /// One step of the interleaving, as the runner's loop takes it.
    fn step(&mut self, op: &Op) {
        if self.state != RunnerState::Running {
            return;
        }
        match op {
            Op::Output(output) if self.stdout == Stdout::Open => {
                let mut events = Vec::new();
                self.adapter.on_line(output.line().as_bytes(), &mut events);
                self.record(events);
            }
            Op::Interrupt(reason) => self.interrupt(*reason),
            Op::BackendExit(exit) if self.tree.leader_running => self.leader_exited(*exit),
            Op::StdoutEof if self.stdout == Stdout::Open => self.eof(),
            Op::Tick(ms) => self.now += Duration::from_millis(*ms),
            Op::Disconnect(0) if self.mode == Mode::Foreground => {
                self.interrupt(InterruptReason::ClientLost);
            }
            Op::RunnerCrash(Crash::Now) => {
                self.state = RunnerState::Crashed;
                self.gone();
                return;
            }
            Op::RunnerCrash(Crash::BetweenExitFileAndRecord) => self.crash_in_end = true,
            Op::Output(_)
            | Op::BackendExit(_)
            | Op::StdoutEof
            | Op::CatchUp
            | Op::Attach
            | Op::Disconnect(_)
            | Op::Restart(_) => {}
        }
        self.settle();
    }

    /// The backend's events, recorded as the supervisor records them: the first marker
    /// counts.
    fn record(&mut self, events: Vec<Event>) {
        for event in events {
            let durability = match &event {
                Event::Marker { outcome, error } => {
                    if self.marker.is_none() {
                        self.marker = Some((*outcome, error.clone()));
                        self.ladder.marker_seen(self.now);
                    }
                    Durability::Synced
                }
                _ => Durability::Flushed,
            };
            self.log.append(event, durability).expect("append");
        }
    }

    fn interrupt(&mut self, reason: InterruptReason) {
        if self.ladder.interrupt(reason, self.now) {
            self.log
                .append(Event::InterruptRequested { reason }, Durability::Synced)
                .expect("append");
        }
    }

    fn leader_exited(&mut self, exit: LeaderExit) {
        self.tree.leader_running = false;
        self.ladder.leader_exited(exit, self.now, &mut self.tree);
    }

    fn eof(&mut self) {
        self.stdout = Stdout::Drained;
        let mut events = Vec::new();
        self.adapter.finish(&mut events);
        self.record(events);
    }

    /// The ladder's due steps, the backend's death of a signal a step sent, and the end once
    /// the turn is finished.
    fn settle(&mut self) {
        loop {
            self.ladder.on_time(self.now, &mut self.tree);
            match self.tree.signalled.take() {
                Some(signal) if self.ladder.leader() == Leader::Running => {
                    self.leader_exited(LeaderExit {
                        code: None,
                        signal: Some(signal),
                    });
                }
                Some(_) | None => break,
            }
        }
        if self.ladder.finished(self.stdout, self.now) {
            self.finalize();
        }
    }

    /// The end, as the supervisor's `finalize` writes it.
    fn finalize(&mut self) {
        let exit = self.ladder.leader_exit().unwrap_or(LeaderExit::UNKNOWN);
        self.log
            .append(
                Event::BackendExited {
                    exit_code: exit.code,
                    signal: exit.signal,
                },
                Durability::Flushed,
            )
            .expect("append");
        let (reason, error) = decide(self.marker.as_ref(), self.ladder.stop(), exit, None);
        let record = ExitRecord {
            exit_code: exit.code,
            signal: exit.signal,
            ..ExitRecord::ended(reason, error, self.log.next_seq())
        };
        if self.crash_in_end {
            atomic_file::write_json_atomic(&self.dir.join(EXIT_FILE), &record).expect("exit");
            self.state = RunnerState::Crashed;
        } else {
            write_end(&self.dir, &mut self.log, &record).expect("the end");
            self.state = RunnerState::Ended;
        }
        self.gone();
    }

    /// The runner process is gone: its record names a process that no longer exists.
    fn gone(&self) {
        let dead = Identity {
            pid: i32::MAX,
            start_time: 1,
            boot_id: "a boot long gone".to_owned(),
        };
        write_process_record(&self.dir, self.mode, dead);
    }

    /// A turn nobody stops runs forever: once the interleaving is over, `agent-host kill`
    /// stops it, and time passes until it ends.
    fn run_out(&mut self) {
        for _ in 0..100 {
            if self.state != RunnerState::Running {
                return;
            }
            self.interrupt(InterruptReason::Kill);
            if !self.tree.leader_running && self.stdout == Stdout::Open {
                self.eof();
            }
            self.now += Duration::from_millis(250);
            self.settle();
        }
        panic!("the runner never ended the turn: {:?}", self.ladder);
    }
}

fn write_process_record(dir: &Path, mode: Mode, runner: Identity) {
    let record = ProcessRecord {
        v: RECORD_VERSION,
        runner,
        backend: None,
        socket: String::new(),
        mode,
        started_at_ms: now_ms(),
        heartbeat_at_ms: now_ms(),
        descendants: Vec::new(),
        spare: None,
        engine: None,
    };
    atomic_file::write_json_atomic(&dir.join(PROCESS_FILE), &record).expect("process.json");
}

/// What one server sent for the turn: each `turn/completed` (its status and its time), and
/// every record it was given.
#[derive(Debug, Default)]
struct Told {
    completed: Vec<(TurnStatus, i64)>,
    records: Vec<EventRecord>,
}

/// A server following the turn, as `follow.rs` follows it.
struct Follower {
    task: tokio::task::JoinHandle<Told>,
    /// The last seq it was given.
    seen: Arc<AtomicU64>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

impl Follower {
    /// A server that follows the turn from `from_seq` (the one that started it: from 1),
    /// or `None` when a server loading the thread finds the turn ended (`reattach`).
    fn attach(dir: &Path, thread: Uuid, turn: Uuid, from_start: bool) -> Option<Follower> {
        let from_seq = if from_start {
            1
        } else {
            if !matches!(read_exit_record(dir), Ok(None)) {
                return None;
            }
            let records = log::read_all(&dir.join(log::EVENTS_FILE)).expect("the log");
            records.records.last().map_or(1, |record| record.seq + 1)
        };
        let active = ActiveTurn {
            turn_id: turn,
            dir: dir.to_owned(),
            started_at_ms: STARTED_AT_MS,
            final_message: None,
            last_error: None,
            summary_parts: BTreeSet::new(),
            waiting_approvals: Vec::new(),
            review: None,
        };
        let seen = Arc::new(AtomicU64::new(from_seq - 1));
        let task = runtime().spawn(follow(active, thread, from_seq, seen.clone()));
        Some(Follower { task, seen })
    }
}

/// The follower of one server: each record through `translate`, the end taken once; a
/// stream that breaks first ends the turn from the files (`on_turn_lost`).
async fn follow(active: ActiveTurn, thread: Uuid, from_seq: u64, seen: Arc<AtomicU64>) -> Told {
    let dir = active.dir.clone();
    let mut active = Some(active);
    let mut told = Told::default();
    let mut records = subscribe(&dir, from_seq).await.expect("subscribe");
    while let Some(Ok(record)) = records.recv().await {
        seen.store(record.seq, Ordering::SeqCst);
        told.records.push(record.clone());
        let ended = record.is_turn_ended();
        if let Some(turn) = active.as_mut()
            && let Step::End(ended) = translate(turn, thread, record)
        {
            active = None;
            told.completed.push((ended.status, ended.at_ms));
        }
        if ended {
            return told;
        }
    }
    if active.take().is_some() {
        let ended = match read_exit_record(&dir) {
            Ok(Some(exit)) => Ended::recorded(exit),
            Ok(None) | Err(_) => {
                let stopped = tokio::task::spawn_blocking(move || {
                    crate::turn_control::stop(&dir, Duration::from_secs(10))
                })
                .await;
                match stopped {
                    Ok(Ok(Some(exit))) => Ended::recorded(exit),
                    Ok(Ok(None) | Err(_)) | Err(_) => Ended {
                        status: TurnStatus::Interrupted,
                        reason: EndReason::RunnerLost,
                        error: None,
                        at_ms: now_ms() as i64,
                    },
                }
            }
        };
        told.completed.push((ended.status, ended.at_ms));
    }
    told
}

/// Waits until every follower was given the log's last record (or the turn ended for it).
fn catch_up(followers: &[&Follower], dir: &Path) {
    let last = log::read_all(&dir.join(log::EVENTS_FILE))
        .expect("the log")
        .records
        .last()
        .map_or(0, |record| record.seq);
    let deadline = Instant::now() + WAIT;
    for follower in followers {
        while follower.seen.load(Ordering::SeqCst) < last && !follower.task.is_finished() {
            assert!(Instant::now() < deadline, "a follower did not catch up");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// One turn's directory with its `turn.json`, in a state directory of its own.
fn new_turn(state: &Path, turn: Uuid) -> PathBuf {
    let dir = state.join(turn.to_string());
    std::fs::create_dir(&dir).expect("turn dir");
    let turn_record = TurnRecord {
        v: RECORD_VERSION,
        turn_id: turn.to_string(),
        user_message_id: "u".to_owned(),
        client_user_message_id: None,
        input: Vec::new(),
        started_at_ms: STARTED_AT_MS,
        review: None,
    };
    atomic_file::write_json_atomic(&dir.join(TURN_FILE), &turn_record).expect("turn.json");
    dir
}

/// The servers of a case: those following the turn (by slot) and what the ones that
/// stopped following were told.
struct Servers {
    dir: PathBuf,
    thread: Uuid,
    turn: Uuid,
    live: Vec<Option<Follower>>,
    gone: Vec<Told>,
}

impl Servers {
    /// The server that started the turn, following it from its first record.
    fn start(dir: &Path, thread: Uuid, turn: Uuid) -> Servers {
        Servers {
            dir: dir.to_owned(),
            thread,
            turn,
            live: vec![Follower::attach(dir, thread, turn, true)],
            gone: Vec::new(),
        }
    }

    /// The servers' part of one step.
    fn step(&mut self, op: &Op) {
        match op {
            Op::CatchUp => {
                let live: Vec<&Follower> = self.live.iter().flatten().collect();
                catch_up(&live, &self.dir);
            }
            Op::Attach => {
                let follower = Follower::attach(&self.dir, self.thread, self.turn, false);
                self.live.push(follower);
            }
            Op::Disconnect(index) => self.stop(*index),
            Op::Restart(index) if *index < self.live.len() => {
                self.stop(*index);
                self.live[*index] = Follower::attach(&self.dir, self.thread, self.turn, false);
            }
            Op::Output(_)
            | Op::Interrupt(_)
            | Op::BackendExit(_)
            | Op::StdoutEof
            | Op::Tick(_)
            | Op::Restart(_)
            | Op::RunnerCrash(_) => {}
        }
    }

    /// The server in slot `index` goes away (its client did, or it was killed).
    fn stop(&mut self, index: usize) {
        if let Some(follower) = self.live.get_mut(index).and_then(Option::take) {
            follower.task.abort();
            if let Ok(told) = runtime().block_on(follower.task) {
                self.gone.push(told);
            }
        }
    }

    /// What every server still following was told, once the turn ended for it.
    fn finish(self) -> (Vec<Told>, Vec<Told>) {
        let mut told = Vec::new();
        for follower in self.live.into_iter().flatten() {
            let result =
                runtime().block_on(async { tokio::time::timeout(WAIT, follower.task).await });
            told.push(
                result
                    .expect("a follower ended in time")
                    .expect("a follower"),
            );
        }
        (told, self.gone)
    }
}

/// Runs one interleaving and checks every promise of a turn's end.
fn check(mode: Mode, ops: &[Op]) {
    let state = tempfile::tempdir().expect("tempdir");
    let (thread, turn) = (Uuid::now_v7(), Uuid::now_v7());
    let dir = new_turn(state.path(), turn);
    let mut runner = Runner::start(&dir, turn, mode);
    let mut servers = Servers::start(&dir, thread, turn);
    for op in ops {
        runner.step(op);
        servers.step(op);
    }
    runner.run_out();
    // A server starting now recovers a turn whose runner died without its end.
    let recovered = {
        let dir = dir.clone();
        runtime()
            .spawn_blocking(move || recover_turn(&dir, &mut crate::launcher::Recovery::from_env()))
    };
    let (told, gone) = servers.finish();
    let _ = runtime().block_on(recovered);
    let exit = check_one_end(&dir, runner.state);
    // One end, one time: whoever ended the turn, every server tells the exit record's.
    let end = (exit.status, exit.ended_at_ms as i64);
    for server in &told {
        assert_eq!(server.completed, [end], "turn/completed of a follower");
    }
    for server in &gone {
        assert!(server.completed.len() <= 1, "{:?}", server.completed);
        assert!(
            server.completed.iter().all(|told| *told == end),
            "turn/completed of a server that went away: {:?}, on disk {end:?}",
            server.completed
        );
    }
    check_read_back(&dir, turn, &exit, told.iter().chain(&gone));
}

/// Exactly one terminal status: the exit record, and at most one `turnEnded` record, which
/// says the same (one for a runner that ended the turn itself). Returns the exit record.
fn check_one_end(dir: &Path, runner: RunnerState) -> ExitRecord {
    let exit = read_exit_record(dir)
        .expect("exit.json readable")
        .expect("every turn ends with an exit record");
    let on_disk = log::read_all(&dir.join(log::EVENTS_FILE)).expect("the log");
    assert!(
        on_disk.bad_lines.is_empty(),
        "bad lines: {:?}",
        on_disk.bad_lines
    );
    let ended: Vec<&EventRecord> = on_disk
        .records
        .iter()
        .filter(|r| r.is_turn_ended())
        .collect();
    assert!(ended.len() <= 1, "{} turnEnded records", ended.len());
    if let Some(record) = ended.first() {
        assert_eq!(
            **record,
            exit.turn_ended_record(),
            "turnEnded and exit.json"
        );
    }
    if runner == RunnerState::Ended {
        assert_eq!(ended.len(), 1, "a runner that ended wrote turnEnded");
    }
    exit
}

/// What the servers were given live is what the files say: each record is the one on disk
/// with its seq (a `turnEnded` the runner could not write is the exit record's). A restarted
/// server reads the turn with the status the followers were told, twice the same way.
fn check_read_back<'a>(
    dir: &Path,
    turn: Uuid,
    exit: &ExitRecord,
    servers: impl Iterator<Item = &'a Told>,
) {
    let on_disk = log::read_all(&dir.join(log::EVENTS_FILE)).expect("the log");
    let synthesized = exit.turn_ended_record();
    for server in servers {
        for record in &server.records {
            match on_disk.records.iter().find(|r| r.seq == record.seq) {
                Some(stored) => assert_eq!(record, stored, "a record given live"),
                None => assert_eq!(record, &synthesized, "a record not on disk"),
            }
        }
    }
    let read = read_turn(dir, turn).expect("the turn reads back");
    assert_eq!(read.status, super::super::convert::turn_status(exit.status));
    let ended_at_ms = exit.ended_at_ms as i64;
    assert_eq!(
        read.completed_at,
        Some(ended_at_ms / 1000),
        "completedAt read back"
    );
    assert_eq!(
        read.duration_ms,
        Some(ended_at_ms - STARTED_AT_MS),
        "durationMs read back"
    );
    assert_eq!(Some(read), read_turn(dir, turn), "a second read");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_interleaving_ends_a_turn_once_for_every_follower(
        foreground in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..MAX_STEPS),
    ) {
        let mode = if foreground { Mode::Foreground } else { Mode::Background };
        check(mode, &ops);
    }
}
