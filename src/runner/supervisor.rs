//! The runner's loop: one owner of the turn's state, fed by one closed [`Input`] enum.
//!
//! Helper threads only read (backend stdout, the leader's exit, the lifeline, the control
//! socket) and send inputs; every decision and every write to the event log happens here, in
//! arrival order. Timers (the rungs of the interrupt ladder and the sweep, kept as one phase
//! by [`Ladder`]; the heartbeat; the approval policy) are deadlines checked after each input
//! or timeout.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, ExitStatus};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Signal, pidfd_send_signal};

use crate::atomic_file;
use crate::backend::{Adapter, Cancel};
use crate::events::{
    DecidedBy, EndReason, ErrorInfo, Event, ExitRecord, InterruptReason, MarkerOutcome,
    ProcessRecord, now_ms,
};
use crate::process::identity::{self, Identity};
use crate::process::tree::{self, Scope};
use crate::runner::approvals::{ATTACH_GRACE, Approvals, ClientLink};
use crate::runner::control::{ControlInput, ControlReply, ControlRequest, Subscription};
use crate::runner::ladder::{
    self, Effects, InterruptOrder, Ladder, Leader, LeaderExit, Left, Reap, Stdout, Stop,
};
use crate::runner::log::{Durability, EventLog};
use crate::runner::{EXIT_FILE, PROCESS_FILE};
use crate::spec::GraceMs;

/// How often `heartbeatAtMs` (and the recorded descendants) are refreshed.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// The first heartbeat comes sooner, to record the backend's early children.
const FIRST_HEARTBEAT: Duration = Duration::from_millis(250);
/// How long one SIGKILL loop may take.
const KILL_LOOP_LIMIT: Duration = Duration::from_secs(2);
/// How long finished subscribers get to write out their last records.
const SUBSCRIBER_DRAIN: Duration = Duration::from_secs(2);
/// How much of the backend's stderr goes into a failure's details.
const STDERR_TAIL_BYTES: u64 = 2048;

/// Everything the loop reacts to.
#[derive(Debug)]
pub enum Input {
    StdoutLine(Vec<u8>),
    /// A stdout line over [`MAX_LINE_BYTES`], with its length; only the raw copy has it.
    StdoutLineTooLong(u64),
    StdoutEof,
    LeaderExited(io::Result<ExitStatus>),
    LifelineBroken,
    /// SIGTERM, SIGINT or SIGHUP to the runner itself.
    StopSignal(i32),
    Control(ControlInput),
    /// A request from the turn's control inbox, acknowledged in the event log.
    Inbox {
        id: String,
        request: ControlRequest,
    },
}

/// The backend's end-of-turn marker: its outcome and error.
pub type Marker = (MarkerOutcome, Option<ErrorInfo>);

/// Why the turn ended, from (marker, why the ladder was started, exit status) together;
/// the status is the reason's own ([`EndReason::status`]).
pub fn decide(
    marker: Option<&Marker>,
    stop: Option<Stop>,
    exit: LeaderExit,
    stderr_tail: Option<String>,
) -> (EndReason, Option<ErrorInfo>) {
    if let Some(Stop::Interrupt {
        reason,
        order: InterruptOrder::BeforeMarker,
    }) = stop
    {
        return (EndReason::Interrupted(reason), None);
    }
    match marker {
        // Stopped by us after the marker (an interrupt after it, or the marker's exit grace
        // over) is as clean as an exit with code 0.
        Some((MarkerOutcome::Completed, _)) if exit.code == Some(0) || stop.is_some() => {
            (EndReason::Completed, None)
        }
        Some((MarkerOutcome::Completed, _)) => {
            let mut error = ErrorInfo::new(format!(
                "the backend reported completion but then {}",
                exit.describe()
            ));
            error.additional_details = stderr_tail;
            (EndReason::ExitedAfterMarker, Some(error))
        }
        Some((MarkerOutcome::Failed, error)) => (
            EndReason::Failed,
            Some(
                error
                    .clone()
                    .unwrap_or_else(|| ErrorInfo::new("the backend reported a failed turn")),
            ),
        ),
        None => {
            let mut error = ErrorInfo::new(format!(
                "the backend {} without an end-of-turn marker",
                exit.describe()
            ));
            error.additional_details = stderr_tail;
            (EndReason::ExitedWithoutMarker, Some(error))
        }
    }
}

/// The running backend as the loop knows it.
pub struct Backend {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub adapter: Adapter,
}

/// The turn's real process tree, which the ladder's steps act on.
struct TurnProcesses {
    scope: Scope,
    leader_pid: i32,
}

impl TurnProcesses {
    /// The zombie a step must not reap: the leader while its waiter thread owns it.
    fn keep(&self, reap: Reap) -> Option<i32> {
        match reap {
            Reap::AllButLeader => Some(self.leader_pid),
            Reap::All => None,
        }
    }
}

impl Effects for TurnProcesses {
    fn terminate(&mut self, reap: Reap) -> Left {
        match tree::sweep_once(&self.scope, Signal::TERM, self.keep(reap)) {
            Ok(live) if live.is_empty() => Left::Nothing,
            Ok(live) => {
                tracing::info!(count = live.len(), "SIGTERM to every process of the turn");
                Left::Some
            }
            Err(err) => {
                tracing::error!(%err, "cannot find the turn's processes");
                Left::Unknown
            }
        }
    }

    fn kill(&mut self, reap: Reap) -> Left {
        let deadline = Instant::now() + KILL_LOOP_LIMIT;
        match tree::kill_all(&self.scope, self.keep(reap), deadline) {
            Ok(left) if left.is_empty() => Left::Nothing,
            Ok(left) => {
                let pids: Vec<i32> = left.iter().map(|stat| stat.pid).collect();
                tracing::error!(?pids, "processes survived SIGKILL");
                Left::Some
            }
            Err(err) => {
                tracing::error!(%err, "cannot find the turn's processes");
                Left::Unknown
            }
        }
    }

    fn scan(&mut self) -> Left {
        let Ok(all) = tree::scan() else {
            return Left::Unknown;
        };
        tree::reap_zombie_children(&all, None);
        let live = tree::members(&self.scope, &all)
            .into_iter()
            .any(|stat| !stat.is_zombie());
        if live { Left::Some } else { Left::Nothing }
    }
}

/// The supervisor of one turn.
pub struct Supervisor {
    turn_dir: PathBuf,
    log: EventLog,
    record: ProcessRecord,
    backend: Backend,
    processes: TurnProcesses,
    socket_path: PathBuf,
    /// The backend's end marker, the first one seen.
    marker: Option<Marker>,
    /// Where the turn's processes are on their way to the end, and why.
    ladder: Ladder,
    stdout: Stdout,
    next_heartbeat: Instant,
    subscribers: Vec<mpsc::Sender<Arc<str>>>,
    subscriber_done: Vec<mpsc::Receiver<()>>,
    /// Set when the runner itself failed; the turn then ends `failed` (`runnerError`).
    runner_error: Option<String>,
    approvals: Approvals,
    /// The backend's stdin for user messages (stream-json input): open until the answer to
    /// the last message, or the interrupt; dropping it closes the pipe.
    messages: Option<mpsc::Sender<String>>,
    lifeline_intact: bool,
    next_subscription_id: u64,
    /// The runner is an engine job's main process: the engine's signals reach the backend too.
    engine: bool,
}

impl Supervisor {
    pub fn new(
        turn_dir: PathBuf,
        log: EventLog,
        record: ProcessRecord,
        backend: Backend,
        scope: Scope,
        grace: GraceMs,
        socket_path: PathBuf,
    ) -> Supervisor {
        let processes = TurnProcesses {
            scope,
            leader_pid: backend.pid,
        };
        Supervisor {
            turn_dir,
            log,
            record,
            backend,
            processes,
            socket_path,
            marker: None,
            ladder: Ladder::new(&grace),
            stdout: Stdout::Open,
            next_heartbeat: Instant::now() + FIRST_HEARTBEAT,
            subscribers: Vec::new(),
            subscriber_done: Vec::new(),
            runner_error: None,
            approvals: Approvals::none(),
            messages: None,
            lifeline_intact: true,
            next_subscription_id: 0,
            engine: false,
        }
    }

    /// The runner is an engine job's main process (`docs/contracts.md`, "Runners placed by
    /// an engine"): a backend killed by the engine's stop or interrupt signal (sent to the
    /// whole job) counts as that signal to the runner, whichever process got it first.
    pub fn in_engine(mut self) -> Supervisor {
        self.engine = true;
        self
    }

    /// Sets how approval requests are answered (the default takes none).
    pub fn with_approvals(mut self, approvals: Approvals) -> Supervisor {
        self.approvals = approvals;
        self
    }

    /// Gives the loop the backend's stdin for user messages and sends the first one, the
    /// prompt (stream-json input).
    pub fn with_user_messages(mut self, stdin: mpsc::Sender<String>, prompt: &str) -> Supervisor {
        if let Some(line) = self.backend.adapter.user_message(prompt) {
            let _ = stdin.send(line);
            self.messages = Some(stdin);
        }
        self
    }

    /// Gives the loop the backend's stdin for its own protocol, and writes the adapter's
    /// first lines (kind `codex`: `initialize`).
    pub fn with_protocol_input(mut self, stdin: mpsc::Sender<String>) -> Supervisor {
        self.messages = Some(stdin);
        self.write_backend_input();
        self
    }

    /// Writes the lines the adapter has for the backend's stdin.
    fn write_backend_input(&mut self) {
        let lines = self.backend.adapter.take_input();
        if lines.is_empty() {
            return;
        }
        let Some(stdin) = self.messages.as_ref() else {
            tracing::warn!(
                count = lines.len(),
                "the backend's stdin is closed; lines lost"
            );
            return;
        };
        for line in lines {
            if stdin.send(line).is_err() {
                tracing::warn!("the backend's stdin is closed; lines lost");
                return;
            }
        }
    }

    /// Runs the loop to the end of the turn and writes the exit record.
    pub fn run(mut self, inputs: mpsc::Receiver<Input>) -> io::Result<ExitRecord> {
        if let Err(err) = self.event_loop(&inputs) {
            // The runner cannot go on (say, the disk is full): stop the whole tree rather
            // than leave it to init, and still try to write the exit record.
            tracing::error!(%err, "runner loop failed; stopping every process of the turn");
            self.runner_error = Some(err.to_string());
            self.emergency_stop(&inputs);
        }
        self.finalize()
    }

    fn event_loop(&mut self, inputs: &mpsc::Receiver<Input>) -> io::Result<()> {
        loop {
            let now = Instant::now();
            if self.ladder.finished(self.stdout, now) {
                return Ok(());
            }
            let timeout = self.next_wakeup(now).saturating_duration_since(now);
            match inputs.recv_timeout(timeout) {
                Ok(input) => self.handle(input)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Every helper is gone; only timers can move the turn on now.
                    std::thread::sleep(timeout.min(ladder::SWEEP_POLL));
                }
            }
            self.on_time()?;
        }
    }

    /// SIGKILLs every process of the turn and waits (bounded) for the leader's exit status.
    fn emergency_stop(&mut self, inputs: &mpsc::Receiver<Input>) {
        let deadline = Instant::now() + KILL_LOOP_LIMIT;
        let reap = match self.ladder.leader() {
            Leader::Running => {
                let _ = pidfd_send_signal(&self.backend.pidfd, Signal::KILL);
                Reap::AllButLeader
            }
            Leader::Exited(_) => Reap::All,
        };
        self.processes.kill(reap);
        while self.ladder.leader() == Leader::Running {
            match inputs.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Input::LeaderExited(status)) => {
                    self.ladder
                        .note_leader_exit(LeaderExit::from_status(&status));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        self.processes.kill(Reap::All);
    }

    fn next_wakeup(&self, now: Instant) -> Instant {
        [self.ladder.next_deadline(now), self.approvals.policy_at]
            .into_iter()
            .flatten()
            .fold(self.next_heartbeat, Instant::min)
    }

    fn handle(&mut self, input: Input) -> io::Result<()> {
        match input {
            Input::StdoutLine(line) => {
                let mut events = Vec::new();
                self.backend.adapter.on_line(&line, &mut events);
                // Before the events: a marker among them closes stdin.
                self.write_backend_input();
                self.record_backend_events(events)
            }
            Input::StdoutLineTooLong(len) => self.append(
                Event::Warning {
                    message: format!(
                        "skipped a backend output line of {len} bytes (the limit is {MAX_LINE_BYTES})"
                    ),
                },
                Durability::Flushed,
            ),
            Input::StdoutEof => {
                self.stdout = Stdout::Drained;
                let mut events = Vec::new();
                self.backend.adapter.finish(&mut events);
                self.record_backend_events(events)
            }
            Input::LeaderExited(status) => {
                if let Err(err) = &status {
                    tracing::error!(%err, "waiting for the backend failed");
                }
                // Recorded at the end, after the last stdout line (see finalize); the ladder
                // stops what the leader left behind.
                let exit = LeaderExit::from_status(&status);
                if let Some(reason) = self.engine_signal(exit) {
                    tracing::info!(?exit, "the backend got the engine's signal");
                    self.interrupt(reason)?;
                }
                self.ladder
                    .leader_exited(exit, Instant::now(), &mut self.processes);
                Ok(())
            }
            Input::LifelineBroken => {
                tracing::info!("lifeline broken: the foreground client is gone");
                self.lifeline_intact = false;
                self.decide_pending_by_policy()?;
                self.interrupt(InterruptReason::ClientLost)
            }
            Input::StopSignal(signal) => {
                tracing::info!(signal, "stop signal to the runner: interrupting the turn");
                self.interrupt(signal_reason(signal))
            }
            Input::Inbox { id, request } => {
                let attach = request == ControlRequest::Attach {};
                let answer = self.control(request)?;
                if attach {
                    return Ok(());
                }
                self.append(
                    Event::ControlAcknowledged {
                        id,
                        ok: answer.ok,
                        error: answer.error,
                    },
                    Durability::Synced,
                )
            }
            Input::Control(ControlInput::Request { request, reply }) => {
                let answer = self.control(request)?;
                let _ = reply.send(answer);
                Ok(())
            }
            Input::Control(ControlInput::Subscribe { reply }) => {
                self.subscribe(&reply);
                Ok(())
            }
            Input::Control(ControlInput::Unsubscribed { id }) => self.unsubscribed(id),
        }
    }

    /// The interrupt an engine's signal means when it killed the backend before the runner
    /// saw it: only in an engine, only before any interrupt, only for the engine's signals.
    fn engine_signal(&self, exit: LeaderExit) -> Option<InterruptReason> {
        let signal = exit.signal?;
        let engines = [libc::SIGTERM, libc::SIGUSR1];
        (self.engine && engines.contains(&signal) && self.ladder.stop().is_none())
            .then(|| signal_reason(signal))
    }

    /// A new subscriber: it follows the log from the last record written.
    fn subscribe(&mut self, reply: &mpsc::Sender<Subscription>) {
        let (live_tx, live) = mpsc::channel();
        let (done, done_rx) = mpsc::channel();
        let id = self.next_subscription_id;
        self.next_subscription_id += 1;
        let subscription = Subscription {
            id,
            last_seq: self.log.next_seq() - 1,
            live,
            done,
        };
        if reply.send(subscription).is_ok() {
            self.subscribers.push(live_tx);
            self.subscriber_done.push(done_rx);
            self.approvals.subscribers.insert(id);
            self.approvals.ever_subscribed = true;
            self.approvals.policy_at = None;
        }
    }

    /// A subscriber left: with no client left to answer, the policy decides.
    fn unsubscribed(&mut self, id: u64) -> io::Result<()> {
        if self.approvals.subscribers.remove(&id)
            && !self.approvals.client_attached(self.lifeline_intact)
        {
            self.decide_pending_by_policy()?;
        }
        Ok(())
    }

    fn control(&mut self, request: ControlRequest) -> io::Result<ControlReply> {
        Ok(match request {
            ControlRequest::Interrupt { reason } => {
                if crate::fault::fault() != Some(crate::fault::Fault::InterruptNeverWins) {
                    self.interrupt(reason)?;
                }
                ControlReply::ok()
            }
            ControlRequest::Steer {
                input,
                prompt,
                user_message_id,
                client_user_message_id,
            } => self.steer(input, &prompt, user_message_id, client_user_message_id)?,
            ControlRequest::Approve {
                request_id,
                decision,
            } => self.approve(&request_id, decision)?,
            ControlRequest::Subscribe { .. } => {
                ControlReply::error("subscribe is answered by the connection")
            }
            ControlRequest::Attach {} => {
                let until = Instant::now() + crate::runner::control::ATTACH_LEASE;
                self.approvals.lease_until = Some(until);
                self.approvals.ever_subscribed = true;
                // When the lease runs out unrenewed, the policy decides what is pending.
                self.approvals.policy_at = Some(until);
                ControlReply::ok()
            }
        })
    }

    /// The client's answer to a pending approval request.
    fn approve(
        &mut self,
        request_id: &str,
        decision: serde_json::Value,
    ) -> io::Result<ControlReply> {
        Ok(if !(decision.is_string() || decision.is_object()) {
            ControlReply::error(format!(
                "the decision must be a string or an object, not {decision}"
            ))
        } else if self.approvals.is_pending(request_id) {
            self.resolve(request_id, decision, DecidedBy::Client)?;
            ControlReply::ok()
        } else if self.ladder.interrupting() {
            ControlReply::error(format!(
                "approval request {request_id:?} was dropped: the turn is being interrupted"
            ))
        } else {
            ControlReply::error(format!("no pending approval request {request_id:?}"))
        })
    }

    /// Writes a user message to the backend mid-turn, then records `steered`.
    fn steer(
        &mut self,
        input: serde_json::Value,
        prompt: &str,
        user_message_id: String,
        client_user_message_id: Option<String>,
    ) -> io::Result<ControlReply> {
        let Some(messages) = self.messages.as_ref() else {
            let why = if self.ladder.interrupting() {
                "the turn is being interrupted"
            } else if self.marker.is_some() || self.ladder.leader_exit().is_some() {
                "the turn is ending: the backend has answered its last message"
            } else {
                "this backend does not accept input during a turn"
            };
            return Ok(ControlReply::error(why));
        };
        if prompt.is_empty() {
            return Ok(ControlReply::error("the input holds nothing to send"));
        }
        let Some(line) = self.backend.adapter.user_message(prompt) else {
            return Ok(ControlReply::error(
                "this backend does not accept input during a turn",
            ));
        };
        if messages.send(line).is_err() {
            self.messages = None;
            return Ok(ControlReply::error("the backend's stdin is closed"));
        }
        self.append(
            Event::Steered {
                input,
                user_message_id,
                client_user_message_id,
            },
            Durability::Flushed,
        )?;
        Ok(ControlReply::ok())
    }

    /// Answers a pending request: the line to the backend, then `approvalResolved`.
    fn resolve(
        &mut self,
        request_id: &str,
        decision: serde_json::Value,
        decided_by: DecidedBy,
    ) -> io::Result<()> {
        if !self.approvals.take(request_id) {
            return Ok(());
        }
        let mut events = Vec::new();
        let line = self
            .backend
            .adapter
            .approval_answer(request_id, &decision, &mut events);
        let sent =
            line.is_some_and(|line| self.approvals.send_answer(line, self.messages.as_ref()));
        if !sent {
            tracing::warn!(
                request_id,
                "the backend's stdin is closed; the answer is lost"
            );
        }
        self.append(
            Event::ApprovalResolved {
                request_id: request_id.to_owned(),
                decision,
                decided_by,
            },
            Durability::Flushed,
        )?;
        self.record_backend_events(events)
    }

    /// No client can answer: the spec's `approvalPolicy` decides every pending request.
    fn decide_pending_by_policy(&mut self) -> io::Result<()> {
        self.approvals.policy_at = None;
        let decision = serde_json::Value::from(self.approvals.policy_decision);
        for request_id in self.approvals.pending.clone() {
            tracing::info!(request_id, %decision, "no client attached: the approval policy decides");
            self.resolve(&request_id, decision.clone(), DecidedBy::Policy)?;
        }
        Ok(())
    }

    /// A backend's approval request: pending until the client or the policy answers.
    fn approval_requested(&mut self, event: Event) -> io::Result<()> {
        let Event::ApprovalRequested { request_id, .. } = &event else {
            return self.append(event, Durability::Flushed);
        };
        let request_id = request_id.clone();
        if let Some(message) = self
            .approvals
            .refusal(&request_id, self.ladder.interrupting())
        {
            return self.append(Event::Warning { message }, Durability::Flushed);
        }
        self.append(event, Durability::Flushed)?;
        self.approvals.pending.push(request_id);
        if self.approvals.client_attached(self.lifeline_intact) {
            return Ok(());
        }
        match self.approvals.link {
            ClientLink::Subscribers if !self.approvals.ever_subscribed => {
                // The server that started the turn may not have subscribed yet.
                self.approvals
                    .policy_at
                    .get_or_insert(Instant::now() + ATTACH_GRACE);
                Ok(())
            }
            ClientLink::Subscribers | ClientLink::Lifeline => self.decide_pending_by_policy(),
        }
    }

    fn record_backend_events(&mut self, events: Vec<Event>) -> io::Result<()> {
        for event in events {
            self.record_backend_event(event)?;
        }
        Ok(())
    }

    fn record_backend_event(&mut self, event: Event) -> io::Result<()> {
        if matches!(event, Event::ApprovalRequested { .. }) {
            return self.approval_requested(event);
        }
        let durability = match &event {
            Event::Marker { outcome, error } => {
                if self.marker.is_none() {
                    self.marker = Some((*outcome, error.clone()));
                    self.ladder.marker_seen(Instant::now());
                }
                // The answer to the last message: stdin closes and the backend exits.
                self.messages = None;
                Durability::Synced
            }
            Event::RunnerStarted { .. }
            | Event::ControlAcknowledged { .. }
            | Event::BackendSession { .. }
            | Event::ItemStarted { .. }
            | Event::AgentMessageDelta { .. }
            | Event::ReasoningSummaryDelta { .. }
            | Event::ReasoningTextDelta { .. }
            | Event::CommandOutputDelta { .. }
            | Event::TurnDiff { .. }
            | Event::ItemCompleted { .. }
            | Event::TokenUsage { .. }
            | Event::Warning { .. }
            | Event::Error { .. }
            | Event::ApprovalRequested { .. }
            | Event::ApprovalResolved { .. }
            | Event::Steered { .. }
            | Event::InterruptRequested { .. }
            | Event::BackendExited { .. }
            | Event::TurnEnded { .. } => Durability::Flushed,
        };
        self.append(event, durability)
    }

    /// Starts the interrupt ladder (once): the backend's own cancel now, then SIGTERM to
    /// every process of the turn after `grace.cancel`, then SIGKILL after `grace.term`.
    fn interrupt(&mut self, reason: InterruptReason) -> io::Result<()> {
        if !self.ladder.interrupt(reason, Instant::now()) {
            // Already stopping, or the backend is gone and the turn is ending anyway.
            return Ok(());
        }
        // The backend is being stopped: its pending requests are dropped, unanswered.
        self.approvals.pending.clear();
        self.approvals.policy_at = None;
        self.append(Event::InterruptRequested { reason }, Durability::Synced)?;
        self.send_cancel();
        Ok(())
    }

    /// The backend's own cancel: its interrupt line on stdin, then EOF (or, for a protocol
    /// request, EOF at the end marker), or a signal.
    fn send_cancel(&mut self) {
        let cancel = self.backend.adapter.cancel();
        let sent = |messages: Option<&mpsc::Sender<String>>, line: String| {
            messages.is_some_and(|messages| messages.send(line).is_ok())
        };
        let signal = match cancel {
            // The backend's own interrupt, then EOF (dropping the sender closes stdin once
            // the line is written).
            Cancel::InputLine(line) => {
                let messages = self.messages.take();
                // Stdin already closed: the signal is the only cancel left.
                (!sent(messages.as_ref(), line)).then_some(Signal::INT)
            }
            // The backend's own cancel request; stdin stays open for what it still asks and
            // closes at its end marker.
            Cancel::Request(line) => {
                if sent(self.messages.as_ref(), line) {
                    None
                } else {
                    self.messages = None;
                    Some(Signal::INT)
                }
            }
            Cancel::SignalLeader(signal) => {
                self.messages = None;
                Some(signal)
            }
        };
        if let Some(signal) = signal {
            // The leader is our unreaped child or its pidfd reports it gone: never a
            // reused PID.
            if let Err(err) = pidfd_send_signal(&self.backend.pidfd, signal) {
                tracing::debug!(%err, "cancel signal not delivered");
            }
        }
    }

    fn on_time(&mut self) -> io::Result<()> {
        let now = Instant::now();
        if self.approvals.policy_at.is_some_and(|at| now >= at) {
            self.approvals.policy_at = None;
            if !self.approvals.client_attached(self.lifeline_intact) {
                self.decide_pending_by_policy()?;
            }
        }
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + HEARTBEAT_EVERY;
            self.heartbeat();
        }
        self.ladder.on_time(now, &mut self.processes);
        Ok(())
    }

    /// Refreshes `process.json`: the heartbeat and the turn's live processes.
    fn heartbeat(&mut self) {
        self.record.heartbeat_at_ms = now_ms();
        if let Ok(boot_id) = identity::boot_id() {
            self.record.descendants = tree::live_members(&self.processes.scope)
                .unwrap_or_default()
                .into_iter()
                .map(|stat| Identity {
                    pid: stat.pid,
                    start_time: stat.start_time,
                    boot_id: boot_id.clone(),
                })
                .collect();
        }
        if let Err(err) =
            atomic_file::write_json_atomic(&self.turn_dir.join(PROCESS_FILE), &self.record)
        {
            tracing::warn!(%err, "heartbeat write failed");
        }
    }

    fn append(&mut self, event: Event, durability: Durability) -> io::Result<()> {
        let (_, line) = self.log.append(event, durability)?;
        let line: Arc<str> = Arc::from(line);
        self.subscribers.retain(|tx| tx.send(line.clone()).is_ok());
        Ok(())
    }

    fn finalize(mut self) -> io::Result<ExitRecord> {
        let exit = self.ladder.leader_exit().unwrap_or(LeaderExit::UNKNOWN);
        let appended = self.append(
            Event::BackendExited {
                exit_code: exit.code,
                signal: exit.signal,
            },
            Durability::Flushed,
        );
        if let Err(err) = appended {
            self.runner_error.get_or_insert(err.to_string());
        }
        let stderr_tail = read_tail(&self.turn_dir.join(crate::runner::STDERR_FILE));
        let (reason, error) = match &self.runner_error {
            Some(message) => (
                EndReason::RunnerError,
                Some(ErrorInfo::new(format!(
                    "the turn's runner failed: {message}"
                ))),
            ),
            None => decide(self.marker.as_ref(), self.ladder.stop(), exit, stderr_tail),
        };
        let record = ExitRecord {
            exit_code: exit.code,
            signal: exit.signal,
            ..ExitRecord::ended(reason, error, self.log.next_seq())
        };
        let line: Arc<str> = Arc::from(write_end(&self.turn_dir, &mut self.log, &record)?);
        for tx in self.subscribers.drain(..) {
            let _ = tx.send(line.clone());
        }
        let _ = std::fs::remove_file(&self.socket_path);
        let deadline = Instant::now() + SUBSCRIBER_DRAIN;
        for done in self.subscriber_done.drain(..) {
            let _ = done.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        Ok(record)
    }
}

/// Writes `exit.json`, then appends the matching `turnEnded` record and syncs it; returns
/// the record's line.
pub fn write_end(turn_dir: &Path, log: &mut EventLog, record: &ExitRecord) -> io::Result<String> {
    atomic_file::write_json_atomic(&turn_dir.join(EXIT_FILE), record)?;
    let ended = record.turn_ended_record();
    let (_, line) = log.append_at(ended.event, ended.at_ms, Durability::Synced)?;
    Ok(line)
}

/// The last bytes of a file as text, if it has any.
fn read_tail(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    if len == 0 {
        return None;
    }
    file.seek(SeekFrom::Start(len.saturating_sub(STDERR_TAIL_BYTES)))
        .ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = strip_terminal_escapes(&String::from_utf8_lossy(&bytes))
        .trim()
        .to_owned();
    (!text.is_empty()).then_some(text)
}

/// Removes terminal control sequences (colours: `ESC [ … m`, and other `ESC`-led ones) and
/// control characters other than newline and tab, so a CLI's coloured stderr reads as text.
fn strip_terminal_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte in '@'..='~'.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC '\\'.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Character set designation: one more character.
                Some('(' | ')' | '*' | '+') => {
                    chars.next();
                }
                // A two-character sequence.
                Some(_) | None => {}
            },
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The longest backend stdout line mapped; a longer one is kept in the raw copy only and
/// reported as a warning.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Reads the backend's stdout line by line, keeping a raw copy in `raw_path`.
pub fn read_stdout(stdout: ChildStdout, raw_path: &Path, to_loop: mpsc::Sender<Input>) {
    read_lines(stdout, raw_path, MAX_LINE_BYTES, &to_loop);
    let _ = to_loop.send(Input::StdoutEof);
}

fn read_lines(stdout: impl Read, raw_path: &Path, max_line: usize, to_loop: &mpsc::Sender<Input>) {
    let mut raw = match atomic_file::open_private_append(raw_path) {
        Ok(file) => Some(file),
        Err(err) => {
            tracing::warn!(%err, "cannot open the raw stdout copy");
            None
        }
    };
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    // The length of the current line when it is over the limit (its bytes are not kept).
    let mut oversized: Option<u64> = None;
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::warn!(%err, "reading backend stdout failed");
                break;
            }
        };
        let (piece, complete) = match chunk.iter().position(|&b| b == b'\n') {
            Some(newline) => (&chunk[..=newline], true),
            None => (chunk, false),
        };
        if let Some(file) = raw.as_mut()
            && let Err(err) = file.write_all(piece)
        {
            tracing::warn!(%err, "raw stdout copy failed");
            raw = None;
        }
        match oversized.as_mut() {
            Some(len) => *len += piece.len() as u64,
            None if line.len() + piece.len() > max_line + 1 => {
                oversized = Some((line.len() + piece.len()) as u64);
                line = Vec::new();
            }
            None => line.extend_from_slice(piece),
        }
        let consumed = piece.len();
        reader.consume(consumed);
        if complete {
            let input = match oversized.take() {
                Some(len) => Input::StdoutLineTooLong(len),
                None => {
                    line.pop();
                    Input::StdoutLine(std::mem::take(&mut line))
                }
            };
            if to_loop.send(input).is_err() {
                return;
            }
        }
    }
    // A last line without its newline.
    let last = match oversized {
        Some(len) => Some(Input::StdoutLineTooLong(len)),
        None => (!line.is_empty()).then_some(Input::StdoutLine(line)),
    };
    if let Some(input) = last {
        let _ = to_loop.send(input);
    }
}

/// What a signal to the runner asks: SIGUSR1 (an engine's `scancel --signal=USR1`) the
/// turn's interrupt, as `turn/interrupt`; SIGTERM, SIGINT and SIGHUP the end now (`kill`).
fn signal_reason(signal: i32) -> InterruptReason {
    if signal == libc::SIGUSR1 {
        InterruptReason::Client
    } else {
        InterruptReason::Kill
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_stripped_from_the_stderr_tail() {
        assert_eq!(
            strip_terminal_escapes(
                "\u{1b}[31mnot trusted\u{1b}[0m\r\n\u{1b}]0;title\u{7}next\tline\u{1b}(B"
            ),
            "not trusted\nnext\tline"
        );
        assert_eq!(strip_terminal_escapes("plain"), "plain");
    }

    const CLEAN: LeaderExit = LeaderExit {
        code: Some(0),
        signal: None,
    };
    const SIGINT: LeaderExit = LeaderExit {
        code: None,
        signal: Some(2),
    };

    #[test]
    fn lines_are_split_and_an_oversized_line_is_skipped_but_kept_raw() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        let input: &[u8] = b"short\nthis one is far too long\nok\nlast";
        let (tx, rx) = mpsc::channel();
        read_lines(input, &raw, 10, &tx);
        drop(tx);
        let got: Vec<String> = rx
            .iter()
            .map(|input| match input {
                Input::StdoutLine(line) => String::from_utf8(line).unwrap(),
                Input::StdoutLineTooLong(len) => format!("too long: {len}"),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, ["short", "too long: 25", "ok", "last"]);
        assert_eq!(std::fs::read(&raw).unwrap(), input);
    }

    #[test]
    fn the_end_comes_from_marker_stop_and_exit_together() {
        let completed = (MarkerOutcome::Completed, None);
        let failed = (MarkerOutcome::Failed, Some(ErrorInfo::new("no")));
        let interrupt = |reason, order| Some(Stop::Interrupt { reason, order });
        let reason = |marker: Option<&Marker>, stop, exit| decide(marker, stop, exit, None).0;
        assert_eq!(reason(Some(&completed), None, CLEAN), EndReason::Completed);
        assert_eq!(
            reason(
                None,
                interrupt(InterruptReason::Client, InterruptOrder::BeforeMarker),
                SIGINT
            ),
            EndReason::Interrupted(InterruptReason::Client)
        );
        // A SIGINT-interrupted backend that still wrote a marker and exited 0 is interrupted.
        assert_eq!(
            reason(
                Some(&completed),
                interrupt(InterruptReason::Kill, InterruptOrder::BeforeMarker),
                CLEAN
            ),
            EndReason::Interrupted(InterruptReason::Kill)
        );
        // Stopped by us after its marker, by an interrupt or because it did not exit.
        assert_eq!(
            reason(
                Some(&completed),
                interrupt(InterruptReason::Kill, InterruptOrder::AfterMarker),
                SIGINT
            ),
            EndReason::Completed
        );
        assert_eq!(
            reason(Some(&completed), Some(Stop::MarkerExitTimeout), SIGINT),
            EndReason::Completed
        );
        assert_eq!(reason(None, None, CLEAN), EndReason::ExitedWithoutMarker);
        assert_eq!(
            reason(Some(&completed), None, SIGINT),
            EndReason::ExitedAfterMarker
        );
        assert_eq!(
            decide(Some(&failed), None, CLEAN, None),
            (EndReason::Failed, Some(ErrorInfo::new("no")))
        );
        let (_, error) = decide(None, None, SIGINT, Some("tail".to_owned()));
        let error = error.expect("an error");
        assert_eq!(
            error.message,
            "the backend was killed by signal 2 without an end-of-turn marker"
        );
        assert_eq!(error.additional_details.as_deref(), Some("tail"));
    }
}
