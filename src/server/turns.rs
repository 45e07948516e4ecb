//! The `turn/*` methods, and the following of running turns.
//!
//! A turn is a directory (see `docs/contracts.md`): the server writes `turn.json` (the user's
//! input) and `spec.json`, launches a runner for it, and follows the runner's event log.
//! Every record that arrives goes through [`Server::on_turn_record`] on the loop, in order.
//! `turn/completed` is sent only for the `turnEnded` record, which the runner writes after
//! the backend has exited, been reaped and its output drained; it is sent once, because the
//! active turn is removed from the thread when it is sent.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Event;
use super::state::{LoadedStatus, Reply, Server, Subscription, now_ms, to_value};
use super::threads::thread_id;
use super::usage;
use crate::atomic_file;
use crate::backend;
use crate::config::{PromptVia as ConfigPromptVia, ProviderKind};
use crate::events::{self, EventRecord, InterruptReason, Mode};
use crate::jsonrpc::{ErrorObject, RequestId};
use crate::protocol::*;
use crate::store::{self, Timestamp};
use crate::{runner, spec};

/// The most characters of text one turn's input may hold (Codex's limit).
const MAX_INPUT_CHARS: usize = 1_048_576;

/// How long recovery waits for the leftovers of a turn whose runner died.
const RECOVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The server's own record of a turn: what the user sent. Written once, at `turn/start`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TurnRecord {
    pub v: u32,
    pub turn_id: String,
    pub user_message_id: String,
    pub client_user_message_id: Option<String>,
    pub input: Vec<UserInput>,
    pub started_at_ms: i64,
}

/// Asks the turn's runner to interrupt it (reason `client`); a runner that does not take the
/// request (hung, stopped, or gone) is killed directly with the turn's processes, and its
/// follower then reads the exit record and ends the turn, once.
pub(crate) async fn interrupt_or_kill(dir: PathBuf, turn: Uuid) {
    let Err(err) = runner::client::interrupt(&dir, InterruptReason::Client).await else {
        return;
    };
    tracing::warn!(
        "turn {turn}: the runner did not take the interrupt ({err}); killing it directly"
    );
    match tokio::task::spawn_blocking(move || crate::kill::stop_unresponsive(&dir)).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => tracing::warn!("turn {turn}: direct kill failed: {err}"),
        Err(err) => tracing::warn!("turn {turn}: direct kill failed: {err}"),
    }
}

/// Whether the turn's backend reads user messages mid-turn (its spec says so).
fn streams_input(dir: &Path) -> bool {
    spec::read(dir).is_ok_and(|spec| spec.provider.input == spec::InputMode::StreamJson)
}

/// Passes `input` to the running turn's backend as one more user message. The runner writes
/// it and records `steered` before it answers; the record's userMessage item follows the
/// response to the request that asked.
async fn steer_running(
    dir: &Path,
    turn: Uuid,
    input: &[UserInput],
    client_user_message_id: Option<String>,
) -> Result<(), ErrorObject> {
    // Stream-json input is Claude's, which has no image flag: images are prompt lines.
    let steer = runner::client::SteerInput {
        input: serde_json::to_value(input).map_err(ErrorObject::internal)?,
        prompt: prompt_text(input, ImageDelivery::PromptLines),
        user_message_id: store::new_id().to_string(),
        client_user_message_id,
    };
    runner::client::steer(dir, steer)
        .await
        .map_err(|err| ErrorObject::request_failed(format!("cannot steer turn {turn}: {err}")))
}

/// Why a new turn cannot start on a thread (see [`Server::claim_thread`]).
enum Claim {
    /// Its last turn is running under a live runner.
    Running(Uuid),
    /// Its last turn has no runner yet and may still be launching.
    Starting(Uuid),
    Store(store::StoreError),
}

/// Records the end of a turn whose runner could not be started.
fn end_unlaunched(dir: &Path, message: &str) {
    if !matches!(runner::client::read_exit_record(dir), Ok(None)) {
        return; // the runner recorded its own end before it died
    }
    let written = crate::kill::record_end_for_runner(
        dir,
        events::TurnStatus::Failed,
        "runnerError",
        message,
        crate::kill::next_seq(dir).unwrap_or(1),
    );
    if let Err(err) = written {
        tracing::warn!("cannot record the end of {}: {err}", dir.display());
    }
}

use crate::store::turn_dir;
/// The file name of [`TurnRecord`] in a turn directory.
pub(crate) use crate::store::turn_dir::TURN_FILE;

/// A turn this server is following.
#[derive(Debug)]
pub(crate) struct ActiveTurn {
    pub turn_id: Uuid,
    pub dir: PathBuf,
    pub started_at_ms: i64,
    /// The last completed agent message: the turn's result.
    pub final_message: Option<Value>,
    /// The last non-retried error, reported if the turn fails.
    pub last_error: Option<String>,
    /// Reasoning summary parts already announced, per item.
    pub summary_parts: BTreeSet<(String, u32)>,
    /// Approval requests found waiting when the turn was re-attached, to ask again.
    pub waiting_approvals: Vec<events::Event>,
}

impl Server {
    pub(crate) async fn turn_start(&mut self, id: &RequestId, p: TurnStartParams) -> Option<Reply> {
        let uuid = match thread_id(&p.thread_id) {
            Ok(uuid) => uuid,
            Err(err) => return Some(Err(err)),
        };
        self.refresh(uuid);
        let Some(loaded) = self.loaded.get(&uuid) else {
            return Some(Err(ErrorObject::request_failed(format!(
                "thread not found: {}",
                p.thread_id
            ))));
        };
        let chars: usize = p.input.iter().map(input_chars).sum();
        if chars > MAX_INPUT_CHARS {
            return Some(Err(ErrorObject::invalid_params_with_data(
                format!("Input exceeds the maximum length of {MAX_INPUT_CHARS} characters."),
                json!({"input_error_code": "input_too_large", "max_chars": MAX_INPUT_CHARS, "actual_chars": chars}),
            )));
        }
        if let Some(active) = &loaded.active {
            // Like Codex: the input joins the running turn, whose id is the answer, when its
            // backend can take input mid-turn; refused otherwise, never dropped.
            let (dir, turn) = (active.dir.clone(), active.turn_id);
            if !streams_input(&dir) {
                return Some(Err(ErrorObject::request_failed(format!(
                    "a turn is already active on this thread: {turn}; use turn/steer or turn/interrupt"
                ))));
            }
            if let Err(err) =
                steer_running(&dir, turn, &p.input, p.client_user_message_id.clone()).await
            {
                return Some(Err(err));
            }
            return Some(to_value(&TurnStartResponse {
                turn: Turn {
                    id: turn.to_string(),
                    root_turn_id: Some(turn.to_string()),
                    items: Vec::new(),
                    items_view: ItemsView::NotLoaded,
                    status: TurnStatus::InProgress,
                    error: None,
                    started_at: None,
                    completed_at: None,
                    duration_ms: None,
                },
            }));
        }
        let record = loaded.record.clone();
        let ephemeral = loaded.ephemeral;
        let provider_name = record.model_provider.clone();
        let Some(provider) = self.config.provider(&provider_name).cloned() else {
            return Some(Err(ErrorObject::invalid_params(
                "turn/start",
                format!("the thread's model provider `{provider_name}` is no longer configured"),
            )));
        };
        // Checked before anything else happens, with the command line the thread's record
        // implies; chosen again below, under the thread's lock, from what the last turn said.
        let provisional = spec_provider(
            &provider,
            record.continue_session && record.backend_session_id.is_some(),
        );
        if let Err(err) = check_local_images(&p.input, &provisional) {
            return Some(Err(err));
        }
        let cwd = match p.cwd.as_deref() {
            Some(dir) => match super::threads::check_cwd("turn/start", dir) {
                Ok(dir) => dir.to_string(),
                Err(err) => return Some(Err(err)),
            },
            None => record.cwd.clone(),
        };
        // One turn at a time per thread, also across the servers sharing the state directory:
        // the thread's lock is held from the look at its last turn until this turn's runner
        // has written its process record, so two servers cannot both start one, and one that
        // looks meanwhile sees a runner it can follow.
        let _thread_lock = match ephemeral {
            super::state::Ephemeral::Yes => None,
            super::state::Ephemeral::No => {
                match tokio::task::block_in_place(|| self.claim_thread(uuid)) {
                    Ok(lock) => Some(lock),
                    Err(Claim::Running(other)) => {
                        // Another server's turn: follow it, so this client sees its end and
                        // can interrupt it.
                        self.reattach(uuid);
                        self.notify_thread(
                            uuid,
                            "thread/status/changed",
                            &ThreadStatusChangedNotification {
                                thread_id: p.thread_id.clone(),
                                status: ThreadStatus::Active {
                                    active_flags: Vec::new(),
                                },
                            },
                        )
                        .await;
                        return Some(Err(ErrorObject::request_failed(format!(
                            "a turn is already active on this thread: {other}; use turn/steer or turn/interrupt"
                        ))));
                    }
                    Err(Claim::Starting(other)) => {
                        return Some(Err(ErrorObject::request_failed(format!(
                            "a turn is starting on this thread: {other}; retry when it has started"
                        ))));
                    }
                    Err(Claim::Store(err)) => {
                        return Some(Err(ErrorObject::internal(format!(
                            "cannot lock the thread: {err}"
                        ))));
                    }
                }
            }
        };
        // What the turns before this one recorded (the backend session to resume) is read
        // under the lock, after they have ended.
        let record = match &_thread_lock {
            Some(_) => {
                self.refresh(uuid);
                self.loaded
                    .get(&uuid)
                    .map_or(record, |loaded| loaded.record.clone())
            }
            None => record,
        };
        let turn_id = store::new_id();
        let dir = match self.turn_dir_for(uuid, turn_id, ephemeral) {
            Ok(dir) => dir,
            Err(err) => return Some(Err(err)),
        };
        let started_at_ms = now_ms();
        let turn_record = TurnRecord {
            v: 1,
            turn_id: turn_id.to_string(),
            user_message_id: store::new_id().to_string(),
            client_user_message_id: p.client_user_message_id.clone(),
            input: p.input.clone(),
            started_at_ms,
        };
        let mode = if p.background.unwrap_or(false) {
            Mode::Background
        } else {
            Mode::Foreground
        };
        let turn_dirs = self.turn_dirs(uuid, ephemeral);
        let earlier = turn_dirs.iter().rev().filter(|d| **d != dir);
        // The session to resume: the one the last turn announced, read from its log (a turn
        // that ended while no server followed it, such as a background turn whose server
        // was gone, never reached the thread record), else the thread record's.
        let resume_session_id = if record.continue_session {
            earlier
                .clone()
                .next()
                .and_then(|d| usage::read_turn_usage(d).session_id)
                .or_else(|| record.backend_session_id.clone())
        } else {
            None
        };
        // A turn that resumes a session runs the provider's resume form, if it has one.
        let spec_provider = spec_provider(&provider, resume_session_id.is_some());
        if let Err(err) = check_local_images(&p.input, &spec_provider) {
            // Only when the command line differs from the provisional one; nothing was
            // written into the new turn directory yet.
            let _ = std::fs::remove_dir(&dir);
            return Some(Err(err));
        }
        let (images, image_delivery) = if backend::takes_image_flags(&spec_provider) {
            (local_images(&p.input), ImageDelivery::Flags)
        } else {
            (Vec::new(), ImageDelivery::PromptLines)
        };
        let prompt = prompt_text(&p.input, image_delivery);
        // `tokenUsage.total` counts the whole thread: the runner adds this turn's usage to
        // the total of the earlier turns, read from their logs (`server/usage.rs`).
        let usage_base = usage::base(earlier.map(PathBuf::as_path), resume_session_id.as_deref());
        let runner_spec = spec::Spec {
            v: events::RECORD_VERSION,
            thread_id: p.thread_id.clone(),
            turn_id: turn_id.to_string(),
            mode,
            cwd: PathBuf::from(&cwd),
            provider: spec_provider,
            prompt: prompt.clone(),
            images,
            model: p.model.clone().or(record.model.clone()),
            resume_session_id,
            approval_policy: Some(record.approval_policy.clone()),
            grace_ms: spec::GraceMs {
                cancel: self.config.interrupt.cancel_grace_ms,
                term: self.config.interrupt.term_grace_ms,
                ..spec::GraceMs::default()
            },
            previous_total_usage: Some(usage_base.thread_total),
            resumed_session_usage: usage_base.session_total,
        };
        let written =
            atomic_file::write_json_atomic(&dir.join(TURN_FILE), &turn_record).and_then(|()| {
                atomic_file::write_json_atomic(&dir.join(spec::SPEC_FILE), &runner_spec)
            });
        if let Err(err) = written {
            return Some(Err(ErrorObject::internal(format!(
                "cannot write the turn directory: {err}"
            ))));
        }
        let lifeline = match mode {
            Mode::Foreground => match self.lifeline() {
                Ok(lifeline) => Some(lifeline),
                Err(err) => return Some(Err(ErrorObject::internal(err))),
            },
            Mode::Background => None,
        };
        // The launch waits (bounded) for the runner to report ready; the loop waits with it,
        // so the order of events stays the order of requests, while the runtime's other
        // tasks (turns being followed, the writer) go on.
        let launched = tokio::task::block_in_place(|| {
            runner::launch::launch(&dir, mode, lifeline, &provider.env)
        });
        if let Err(err) = launched {
            let message = format!("failed to start the turn's runner: {err}");
            // The turn never ran: its exit record says so, so nobody waits for it to start.
            end_unlaunched(&dir, &message);
            return Some(Err(ErrorObject::internal(message)));
        }
        // Released before the record update below, which takes the same lock.
        drop(_thread_lock);
        if ephemeral == super::state::Ephemeral::No {
            let first_text = prompt.clone();
            let stored = self.store.update_thread(uuid, |r| {
                r.has_turns = true;
                if r.preview.is_empty() {
                    r.preview = first_text.chars().take(400).collect();
                }
                r.touch(Timestamp::now());
            });
            match stored {
                Ok(stored) => {
                    if let Some(loaded) = self.loaded.get_mut(&uuid) {
                        loaded.record = stored;
                    }
                }
                Err(err) => tracing::warn!("cannot update thread {uuid}: {err}"),
            }
        }
        if let Some(loaded) = self.loaded.get_mut(&uuid) {
            loaded.active = Some(ActiveTurn {
                turn_id,
                dir: dir.clone(),
                started_at_ms,
                final_message: None,
                last_error: None,
                summary_parts: BTreeSet::new(),
                waiting_approvals: Vec::new(),
            });
            loaded.status = LoadedStatus::Active {
                waiting_on_approval: false,
            };
        }
        let response_turn = Turn {
            id: turn_id.to_string(),
            root_turn_id: Some(turn_id.to_string()),
            items: Vec::new(),
            items_view: ItemsView::NotLoaded,
            status: TurnStatus::InProgress,
            error: None,
            started_at: None,
            completed_at: None,
            duration_ms: None,
        };
        self.respond_now(
            id,
            to_value(&TurnStartResponse {
                turn: response_turn.clone(),
            }),
        )
        .await;
        self.notify_thread(
            uuid,
            "thread/status/changed",
            &ThreadStatusChangedNotification {
                thread_id: p.thread_id.clone(),
                status: ThreadStatus::Active {
                    active_flags: Vec::new(),
                },
            },
        )
        .await;
        let mut started = response_turn;
        started.started_at = Some(started_at_ms / 1000);
        self.notify_thread(
            uuid,
            "turn/started",
            &TurnStartedNotification {
                thread_id: p.thread_id.clone(),
                turn: started,
            },
        )
        .await;
        let mut user_item = user_message_item(&turn_record);
        let item_value = serde_json::to_value(&user_item).unwrap_or(Value::Null);
        // Like Codex: the started item has no completion time yet.
        user_item.completed_at_ms = None;
        let started_value = serde_json::to_value(&user_item).unwrap_or(Value::Null);
        self.notify_thread(
            uuid,
            "item/started",
            &json!({"item": started_value, "threadId": p.thread_id, "turnId": turn_id.to_string(), "startedAtMs": started_at_ms}),
        )
        .await;
        self.notify_thread(
            uuid,
            "item/completed",
            &json!({"item": item_value, "threadId": p.thread_id, "turnId": turn_id.to_string(), "contentTokenCount": null, "completedAtMs": started_at_ms}),
        )
        .await;
        self.follow(uuid, turn_id, dir, 1);
        None
    }

    /// Takes the thread's cross-process lock for a new turn, after making sure its last turn
    /// has ended. A last turn whose runner died is ended here the way recovery ends it; a
    /// live one (another server's, or this server's before a restart) is refused.
    fn claim_thread(&self, thread: Uuid) -> Result<store::ThreadLock, Claim> {
        let lock = self.store.lock_thread(thread).map_err(Claim::Store)?;
        let last = self
            .store
            .list_turn_ids(thread)
            .map_err(Claim::Store)?
            .last()
            .copied();
        let Some(turn) = last else {
            return Ok(lock);
        };
        let dir = self.store.turn_dir(thread, turn);
        let ended = |dir: &Path| !matches!(runner::client::read_exit_record(dir), Ok(None));
        if ended(&dir) || !dir.join(spec::SPEC_FILE).exists() {
            return Ok(lock);
        }
        if runner::client::live_socket(&dir).is_some() {
            return Err(Claim::Running(turn));
        }
        super::recovery::recover_turn(&dir);
        if ended(&dir) {
            Ok(lock)
        } else {
            // No process record yet and too young to be given up: a launch that is not
            // ours and not under the lock (a server that died while launching).
            Err(Claim::Starting(turn))
        }
    }

    /// The directories of a thread's turns, oldest first.
    fn turn_dirs(&self, thread: Uuid, ephemeral: super::state::Ephemeral) -> Vec<PathBuf> {
        let turns_dir = match ephemeral {
            super::state::Ephemeral::No => turn_dir::durable_turns(&self.state_dir, thread),
            super::state::Ephemeral::Yes => turn_dir::ephemeral_turns(&self.state_dir, thread),
        };
        match turn_dir::turn_ids(&turns_dir) {
            Ok(ids) => ids
                .into_iter()
                .map(|turn| turns_dir.join(turn.hyphenated().to_string()))
                .collect(),
            Err(err) => {
                tracing::warn!("cannot list the turns of {thread}: {err}");
                Vec::new()
            }
        }
    }

    fn turn_dir_for(
        &self,
        thread: Uuid,
        turn: Uuid,
        ephemeral: super::state::Ephemeral,
    ) -> Result<PathBuf, ErrorObject> {
        let made = match ephemeral {
            super::state::Ephemeral::No => self.store.create_turn_dir(thread, turn),
            super::state::Ephemeral::Yes => self.store.create_ephemeral_turn_dir(thread, turn),
        };
        made.map_err(|err| {
            ErrorObject::internal(format!("cannot create the turn directory: {err}"))
        })
    }

    /// Starts forwarding a turn's records, from `from_seq`, to the loop. A stream that ends
    /// without `turnEnded` is reported as lost, once.
    pub(crate) fn follow(&self, thread: Uuid, turn: Uuid, dir: PathBuf, from_seq: u64) {
        let events = self.events.clone();
        tokio::spawn(async move {
            let error = match runner::client::subscribe(&dir, from_seq).await {
                Err(err) => err.to_string(),
                Ok(mut records) => loop {
                    match records.recv().await {
                        Some(Ok(record)) => {
                            let ended = record.is_turn_ended();
                            let event = Event::TurnRecord {
                                thread,
                                turn,
                                record,
                            };
                            if events.send(event).await.is_err() || ended {
                                return;
                            }
                        }
                        Some(Err(err)) => break err.to_string(),
                        None => {
                            break "the turn's event stream ended before the turn did".to_string();
                        }
                    }
                },
            };
            let _ = events
                .send(Event::TurnLost {
                    thread,
                    turn,
                    error,
                })
                .await;
        });
    }

    /// One record of a followed turn, in log order.
    pub(crate) async fn on_turn_record(&mut self, thread: Uuid, turn: Uuid, record: EventRecord) {
        let Some(loaded) = self.loaded.get_mut(&thread) else {
            return;
        };
        let Some(active) = loaded.active.as_mut().filter(|a| a.turn_id == turn) else {
            // A record of a turn that has already ended here: exactly once means dropping it.
            return;
        };
        let thread_id = thread.to_string();
        let turn_id = turn.to_string();
        let at_ms = record.at_ms as i64;
        match record.event {
            events::Event::ApprovalResolved {
                request_id,
                decided_by: events::DecidedBy::Policy,
                ..
            } => {
                // The policy answered while our request was still out: it is settled.
                self.resolve_by_runner(thread, turn, &request_id).await;
            }
            events::Event::Steered {
                input,
                user_message_id,
                client_user_message_id,
            } => {
                let item = steered_item(input, user_message_id, client_user_message_id, at_ms);
                let completed = serde_json::to_value(&item).unwrap_or(Value::Null);
                let mut started = item;
                started.completed_at_ms = None;
                let started = serde_json::to_value(&started).unwrap_or(Value::Null);
                self.notify_thread(
                    thread,
                    "item/started",
                    &json!({"item": started, "threadId": thread_id, "turnId": turn_id, "startedAtMs": at_ms}),
                )
                .await;
                self.notify_thread(
                    thread,
                    "item/completed",
                    &json!({"item": completed, "threadId": thread_id, "turnId": turn_id, "contentTokenCount": null, "completedAtMs": at_ms}),
                )
                .await;
            }
            events::Event::RunnerStarted { .. }
            | events::Event::ApprovalResolved { .. }
            | events::Event::InterruptRequested { .. }
            | events::Event::Marker { .. }
            | events::Event::BackendExited { .. } => {}
            events::Event::BackendSession { session_id } => {
                let keep = loaded.record.continue_session
                    && loaded.ephemeral == super::state::Ephemeral::No;
                if keep {
                    match self
                        .store
                        .update_thread(thread, |r| r.backend_session_id = Some(session_id))
                    {
                        Ok(stored) => {
                            if let Some(loaded) = self.loaded.get_mut(&thread) {
                                loaded.record = stored;
                            }
                        }
                        Err(err) => tracing::warn!("cannot record the backend session: {err}"),
                    }
                }
            }
            events::Event::ItemStarted { item } => {
                let item = normalize_item(item, Some(at_ms), None);
                let started = item_time(&item, "startedAtMs").unwrap_or(at_ms);
                self.notify_thread(
                    thread,
                    "item/started",
                    &json!({"item": item, "threadId": thread_id, "turnId": turn_id, "startedAtMs": started}),
                )
                .await;
            }
            events::Event::AgentMessageDelta { item_id, delta } => {
                self.notify_thread(
                    thread,
                    "item/agentMessage/delta",
                    &AgentMessageDeltaNotification {
                        thread_id,
                        turn_id,
                        item_id,
                        delta,
                    },
                )
                .await;
            }
            events::Event::ReasoningSummaryDelta {
                item_id,
                delta,
                summary_index,
            } => {
                let new_part = active
                    .summary_parts
                    .insert((item_id.clone(), summary_index));
                if new_part {
                    self.notify_thread(
                        thread,
                        "item/reasoning/summaryPartAdded",
                        &ReasoningSummaryPartAddedNotification {
                            thread_id: thread_id.clone(),
                            turn_id: turn_id.clone(),
                            item_id: item_id.clone(),
                            summary_index: i64::from(summary_index),
                        },
                    )
                    .await;
                }
                self.notify_thread(
                    thread,
                    "item/reasoning/summaryTextDelta",
                    &ReasoningSummaryTextDeltaNotification {
                        thread_id,
                        turn_id,
                        item_id,
                        delta,
                        summary_index: i64::from(summary_index),
                    },
                )
                .await;
            }
            events::Event::ReasoningTextDelta {
                item_id,
                delta,
                content_index,
            } => {
                self.notify_thread(
                    thread,
                    "item/reasoning/textDelta",
                    &ReasoningTextDeltaNotification {
                        thread_id,
                        turn_id,
                        item_id,
                        delta,
                        content_index: i64::from(content_index),
                    },
                )
                .await;
            }
            events::Event::CommandOutputDelta { item_id, delta } => {
                self.notify_thread(
                    thread,
                    "item/commandExecution/outputDelta",
                    &CommandExecutionOutputDeltaNotification {
                        thread_id,
                        turn_id,
                        item_id,
                        delta,
                    },
                )
                .await;
            }
            events::Event::ItemCompleted { item } => {
                let item = normalize_item(item, None, Some(at_ms));
                if item.get("type").and_then(Value::as_str) == Some("agentMessage") {
                    active.final_message = Some(item.clone());
                }
                let completed = item_time(&item, "completedAtMs").unwrap_or(at_ms);
                self.notify_thread(
                    thread,
                    "item/completed",
                    &json!({"item": item, "threadId": thread_id, "turnId": turn_id, "contentTokenCount": null, "completedAtMs": completed}),
                )
                .await;
            }
            events::Event::TokenUsage {
                total,
                last,
                model_context_window,
                ..
            } => {
                self.notify_thread(
                    thread,
                    "thread/tokenUsage/updated",
                    &json!({"threadId": thread_id, "turnId": turn_id, "tokenUsage": {"total": total, "last": last, "modelContextWindow": model_context_window}}),
                )
                .await;
            }
            events::Event::Warning { message } => {
                self.notify_thread(
                    thread,
                    "warning",
                    &WarningNotification {
                        thread_id: Some(thread_id),
                        message,
                    },
                )
                .await;
            }
            events::Event::Error {
                message,
                will_retry,
            } => {
                if will_retry {
                    self.notify_thread(
                        thread,
                        "error",
                        &ErrorNotification {
                            error: turn_error(message, None),
                            will_retry,
                            thread_id,
                            turn_id,
                        },
                    )
                    .await;
                } else {
                    active.last_error = Some(message);
                }
            }
            events::Event::ApprovalRequested {
                request_id,
                kind,
                item_id,
                reason,
                command,
                cwd,
            } => {
                let dir = active.dir.clone();
                self.request_approval(
                    thread, turn, dir, request_id, kind, item_id, reason, command, cwd,
                )
                .await;
            }
            events::Event::TurnEnded {
                status,
                reason,
                error,
            } => {
                self.finish_turn(thread, turn, status, reason, error).await;
            }
        }
    }

    /// Follows the thread's last turn again if it has not ended (a server that restarted,
    /// or another server's background turn). A turn whose runner died is finished by the
    /// follower: its stream ends without `turnEnded`, and [`Server::on_turn_lost`] stops
    /// what is left of it.
    pub(crate) fn reattach(&mut self, thread: Uuid) {
        let Ok(ids) = self.store.list_turn_ids(thread) else {
            return;
        };
        let Some(&turn) = ids.last() else {
            return;
        };
        let dir = self.store.turn_dir(thread, turn);
        if !matches!(runner::client::read_exit_record(&dir), Ok(None)) {
            return;
        }
        let Some(record) = std::fs::read(dir.join(TURN_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<TurnRecord>(&bytes).ok())
        else {
            return;
        };
        let records = runner::log::read_all(&dir.join(runner::log::EVENTS_FILE))
            .map(|log| log.records)
            .unwrap_or_default();
        let next_seq = records.last().map_or(1, |r| r.seq + 1);
        // What the records so far say: the result so far, the last error, and the approval
        // requests still waiting for an answer (asked again once the client is told).
        let mut final_message = None;
        let mut last_error = None;
        let mut waiting: Vec<events::Event> = Vec::new();
        for entry in records {
            match entry.event {
                events::Event::ItemCompleted { item }
                    if item.get("type").and_then(Value::as_str) == Some("agentMessage") =>
                {
                    final_message = Some(normalize_item(item, None, Some(entry.at_ms as i64)));
                }
                events::Event::Error {
                    message,
                    will_retry: false,
                } => last_error = Some(message),
                asked @ events::Event::ApprovalRequested { .. } => waiting.push(asked),
                events::Event::ApprovalResolved { request_id, .. } => waiting.retain(|w| {
                    !matches!(w, events::Event::ApprovalRequested { request_id: r, .. } if *r == request_id)
                }),
                _ => {}
            }
        }
        if let Some(loaded) = self.loaded.get_mut(&thread) {
            loaded.active = Some(ActiveTurn {
                turn_id: turn,
                dir: dir.clone(),
                started_at_ms: record.started_at_ms,
                final_message,
                last_error,
                summary_parts: BTreeSet::new(),
                waiting_approvals: waiting,
            });
            loaded.status = LoadedStatus::Active {
                waiting_on_approval: false,
            };
        }
        self.follow(thread, turn, dir, next_seq);
    }

    /// Asks the client again for the approvals a re-attached turn is still waiting for.
    pub(crate) async fn ask_waiting_approvals(&mut self, thread: Uuid) {
        let Some(active) = self.loaded.get_mut(&thread).and_then(|l| l.active.as_mut()) else {
            return;
        };
        let (turn, dir) = (active.turn_id, active.dir.clone());
        for asked in std::mem::take(&mut active.waiting_approvals) {
            if let events::Event::ApprovalRequested {
                request_id,
                kind,
                item_id,
                reason,
                command,
                cwd,
            } = asked
            {
                self.request_approval(
                    thread,
                    turn,
                    dir.clone(),
                    request_id,
                    kind,
                    item_id,
                    reason,
                    command,
                    cwd,
                )
                .await;
            }
        }
    }

    /// Stops the thread's running turn, if any, and waits (bounded) until it has ended.
    pub(crate) async fn stop_active_turn(&mut self, thread: Uuid) {
        let Some(active) = self.loaded.get(&thread).and_then(|l| l.active.as_ref()) else {
            return;
        };
        let (turn, dir) = (active.turn_id, active.dir.clone());
        let stopped =
            tokio::task::spawn_blocking(move || crate::kill::stop(&dir, RECOVERY_TIMEOUT)).await;
        let (status, reason, message) = match stopped {
            Ok(Ok(Some(exit))) => (exit.status, exit.reason, exit.error),
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => (
                events::TurnStatus::Interrupted,
                "archived".to_string(),
                None,
            ),
        };
        self.finish_turn(thread, turn, status, reason, message)
            .await;
    }

    /// The runner's stream failed: finish the turn from what the files say.
    pub(crate) async fn on_turn_lost(&mut self, thread: Uuid, turn: Uuid, error: String) {
        let Some(active) = self
            .loaded
            .get(&thread)
            .and_then(|l| l.active.as_ref())
            .filter(|a| a.turn_id == turn)
        else {
            return;
        };
        tracing::warn!("turn {turn}: {error}");
        let recorded = runner::client::read_exit_record(&active.dir).ok().flatten();
        match recorded {
            Some(exit) => {
                self.finish_turn(thread, turn, exit.status, exit.reason, exit.error)
                    .await;
            }
            None => {
                // The runner died without its exit record: stop whatever is left of the
                // turn (identity-checked) and record it as interrupted, so it can be resumed.
                let dir = active.dir.clone();
                let stopped =
                    tokio::task::spawn_blocking(move || crate::kill::stop(&dir, RECOVERY_TIMEOUT))
                        .await;
                let (status, reason, message) = match stopped {
                    Ok(Ok(Some(exit))) => (exit.status, exit.reason, exit.error),
                    Ok(Ok(None)) | Ok(Err(_)) | Err(_) => (
                        events::TurnStatus::Interrupted,
                        "runnerLost".to_string(),
                        Some(events::ErrorInfo::new(format!(
                            "the turn's runner was lost: {error}"
                        ))),
                    ),
                };
                self.finish_turn(thread, turn, status, reason, message)
                    .await;
            }
        }
    }

    /// Sends the end of a turn: status change, error, `turn/completed`. Once per turn.
    async fn finish_turn(
        &mut self,
        thread: Uuid,
        turn: Uuid,
        status: events::TurnStatus,
        reason: String,
        error: Option<events::ErrorInfo>,
    ) {
        let Some(loaded) = self.loaded.get_mut(&thread) else {
            return;
        };
        let Some(active) = loaded.active.take_if(|a| a.turn_id == turn) else {
            return;
        };
        self.resolve_turn_requests(thread, turn).await;
        let Some(loaded) = self.loaded.get_mut(&thread) else {
            return;
        };
        let (turn_status, thread_status) = match status {
            events::TurnStatus::Completed => (TurnStatus::Completed, LoadedStatus::Idle),
            events::TurnStatus::Interrupted => (TurnStatus::Interrupted, LoadedStatus::Idle),
            events::TurnStatus::Failed => (TurnStatus::Failed, LoadedStatus::SystemError),
        };
        loaded.status = thread_status.clone();
        let thread_id = thread.to_string();
        let turn_error = match turn_status {
            TurnStatus::Failed => Some(match error {
                // The runner's words, with the backend's last stderr as the details.
                Some(info) => TurnError {
                    additional_details: info.additional_details,
                    ..turn_error(info.message, Some(CodexErrorInfo::Other))
                },
                None => turn_error(
                    active
                        .last_error
                        .clone()
                        .unwrap_or_else(|| format!("the turn failed ({reason})")),
                    Some(CodexErrorInfo::Other),
                ),
            }),
            TurnStatus::Completed | TurnStatus::Interrupted | TurnStatus::InProgress => None,
        };
        self.notify_thread(
            thread,
            "thread/status/changed",
            &ThreadStatusChangedNotification {
                thread_id: thread_id.clone(),
                status: super::convert::status(&thread_status),
            },
        )
        .await;
        if let Some(err) = &turn_error {
            self.notify_thread(
                thread,
                "error",
                &ErrorNotification {
                    error: err.clone(),
                    will_retry: false,
                    thread_id: thread_id.clone(),
                    turn_id: turn.to_string(),
                },
            )
            .await;
        }
        let completed_ms = now_ms();
        let (items, items_view) = match turn_status {
            TurnStatus::Completed => (
                active
                    .final_message
                    .iter()
                    .filter_map(|v| serde_json::from_value::<ThreadItem>(v.clone()).ok())
                    .collect(),
                ItemsView::Summary,
            ),
            TurnStatus::Interrupted | TurnStatus::Failed | TurnStatus::InProgress => {
                (Vec::new(), ItemsView::NotLoaded)
            }
        };
        let turn_view = Turn {
            id: turn.to_string(),
            root_turn_id: Some(turn.to_string()),
            items,
            items_view,
            status: turn_status,
            error: turn_error,
            started_at: Some(active.started_at_ms / 1000),
            completed_at: Some(completed_ms / 1000),
            duration_ms: Some(completed_ms - active.started_at_ms),
        };
        let completed = TurnCompletedNotification {
            thread_id,
            turn: turn_view,
        };
        self.notify_thread(thread, "turn/completed", &completed)
            .await;
        self.inject_fault_after_completion(thread, &completed).await;
    }

    /// The test hook of `docs/testing.md`, "Mutation checks": with `AGENT_HOST_FAULT` set, a
    /// deliberately broken server that the exactly-once checks of the tests must catch.
    async fn inject_fault_after_completion(
        &self,
        thread: Uuid,
        completed: &TurnCompletedNotification,
    ) {
        match crate::fault::fault() {
            Some(crate::fault::Fault::SecondTurnCompleted) => {
                self.notify_thread(thread, "turn/completed", completed)
                    .await;
            }
            Some(crate::fault::Fault::ItemAfterTurnCompleted) => {
                let item = serde_json::json!({
                    "item": {"type": "agentMessage", "id": "fault-item", "text": "late",
                             "phase": null, "memoryCitation": null},
                    "threadId": completed.thread_id,
                    "turnId": completed.turn.id,
                    "completedAtMs": now_ms(),
                });
                self.notify_thread(thread, "item/completed", &item).await;
            }
            Some(crate::fault::Fault::InterruptNeverWins) | None => {}
        }
    }

    pub(crate) async fn turn_interrupt(&mut self, p: TurnInterruptParams) -> Reply {
        let (dir, active_id) = self.active_turn(&p.thread_id, "interrupt")?;
        if active_id.to_string() != p.turn_id {
            return Err(ErrorObject::request_failed(format!(
                "expected active turn id {} but found {active_id}",
                p.turn_id
            )));
        }
        // The answer does not wait for the runner (the loop serves every client): `{}` now,
        // `turn/completed` when the turn has ended. A runner that does not take the request
        // (hung, stopped, or gone) is killed directly with the turn's processes; the
        // follower then reads the exit record and ends the turn, once.
        tokio::spawn(interrupt_or_kill(dir, active_id));
        to_value(&TurnInterruptResponse {})
    }

    pub(crate) async fn turn_steer(&mut self, p: TurnSteerParams) -> Reply {
        let (dir, active_id) = self.active_turn(&p.thread_id, "steer")?;
        if active_id.to_string() != p.expected_turn_id {
            return Err(ErrorObject::request_failed(format!(
                "expected active turn id `{}` but found `{active_id}`",
                p.expected_turn_id
            )));
        }
        let chars: usize = p.input.iter().map(input_chars).sum();
        if chars > MAX_INPUT_CHARS {
            return Err(ErrorObject::invalid_params_with_data(
                format!("Input exceeds the maximum length of {MAX_INPUT_CHARS} characters."),
                json!({"input_error_code": "input_too_large", "max_chars": MAX_INPUT_CHARS, "actual_chars": chars}),
            ));
        }
        if !streams_input(&dir) {
            return Err(ErrorObject::request_failed(format!(
                "the backend of this thread does not accept input during a turn; interrupt turn {active_id} and start a new one"
            )));
        }
        steer_running(&dir, active_id, &p.input, p.client_user_message_id.clone()).await?;
        to_value(&TurnSteerResponse {
            turn_id: active_id.to_string(),
        })
    }

    /// The running turn of a loaded thread, or Codex's errors.
    fn active_turn(&self, raw_thread_id: &str, verb: &str) -> Result<(PathBuf, Uuid), ErrorObject> {
        let uuid = thread_id(raw_thread_id)?;
        let loaded = self.loaded.get(&uuid).ok_or_else(|| {
            ErrorObject::request_failed(format!("thread not found: {raw_thread_id}"))
        })?;
        let active = loaded
            .active
            .as_ref()
            .ok_or_else(|| ErrorObject::request_failed(format!("no active turn to {verb}")))?;
        Ok((active.dir.clone(), active.turn_id))
    }

    /// Sends a thread's notification to this connection if it is subscribed.
    pub(crate) async fn notify_thread<T: Serialize>(
        &self,
        thread: Uuid,
        method: &'static str,
        params: &T,
    ) {
        let subscribed = self
            .loaded
            .get(&thread)
            .is_none_or(|l| l.subscription == Subscription::Subscribed);
        if subscribed {
            self.notify(method, params).await;
        }
    }

    /// Copies the ended turns of `source` (up to and including `last_turn`, when given) into
    /// the new thread `target`: the records a fork starts from. Running turns are not copied.
    pub(crate) fn copy_turns(&mut self, source: Uuid, target: Uuid, last_turn: Option<Uuid>) {
        let Ok(ids) = self.store.list_turn_ids(source) else {
            return;
        };
        let mut copied = 0;
        for turn in ids {
            let from = self.store.turn_dir(source, turn);
            if !from.join(runner::EXIT_FILE).exists() {
                continue;
            }
            let copy = self
                .store
                .create_turn_dir(target, turn)
                .map_err(io_error)
                .and_then(|to| {
                    for name in [TURN_FILE, runner::log::EVENTS_FILE, runner::EXIT_FILE] {
                        std::fs::copy(from.join(name), to.join(name))?;
                    }
                    atomic_file::sync_dir(&to)
                });
            match copy {
                Ok(()) => copied += 1,
                Err(err) => tracing::warn!("fork: cannot copy turn {turn}: {err}"),
            }
            if Some(turn) == last_turn {
                break;
            }
        }
        if copied > 0 {
            let preview = self.loaded.get(&target).map(|l| l.record.preview.clone());
            match self.store.update_thread(target, |r| {
                r.has_turns = true;
                if let Some(preview) = preview {
                    r.preview = preview;
                }
            }) {
                Ok(stored) => {
                    if let Some(loaded) = self.loaded.get_mut(&target) {
                        loaded.record = stored;
                    }
                }
                Err(err) => tracing::warn!("fork: cannot update thread {target}: {err}"),
            }
        }
    }

    /// The last token usage a stored thread's turns reported, as `thread/tokenUsage/updated`
    /// carries it (`total` is the thread's), with the turn that reported it.
    pub(crate) fn last_token_usage(&self, thread: Uuid) -> Option<(Uuid, Value)> {
        let ids = self.store.list_turn_ids(thread).ok()?;
        let dirs: Vec<PathBuf> = ids
            .iter()
            .rev()
            .map(|turn| self.store.turn_dir(thread, *turn))
            .collect();
        let (at, report) = usage::latest_report(dirs.iter().map(PathBuf::as_path))?;
        Some((
            ids[ids.len() - 1 - at],
            json!({"total": report.total, "last": report.last, "modelContextWindow": report.model_context_window}),
        ))
    }

    /// The turns of a thread, read from its turn directories, with every item.
    pub(crate) fn read_turns(&self, thread: Uuid) -> Vec<Turn> {
        let ids = match self.store.list_turn_ids(thread) {
            Ok(ids) => ids,
            Err(err) => {
                tracing::warn!("cannot list the turns of {thread}: {err}");
                return Vec::new();
            }
        };
        ids.into_iter()
            .filter_map(|turn| read_turn(&self.store.turn_dir(thread, turn), turn))
            .collect()
    }
}

/// One stored turn with its items: the user message, then every item that completed.
fn read_turn(dir: &Path, turn: Uuid) -> Option<Turn> {
    let record: TurnRecord =
        serde_json::from_slice(&std::fs::read(dir.join(TURN_FILE)).ok()?).ok()?;
    let mut items = vec![user_message_item(&record)];
    let log = runner::log::read_all(&dir.join(runner::log::EVENTS_FILE)).ok();
    let mut ended_at_ms = None;
    let mut started_at: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for entry in log.map(|l| l.records).unwrap_or_default() {
        let at_ms = entry.at_ms as i64;
        match entry.event {
            events::Event::ItemStarted { item } => {
                if let Some(id) = item.get("id").and_then(Value::as_str) {
                    let at = item_time(&item, "startedAtMs").unwrap_or(at_ms);
                    started_at.insert(id.to_owned(), at);
                }
            }
            events::Event::ItemCompleted { item } => {
                let started = item
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|id| started_at.get(id).copied())
                    .unwrap_or(at_ms);
                let item = normalize_item(item, Some(started), Some(at_ms));
                match serde_json::from_value::<ThreadItem>(item) {
                    Ok(item) => items.push(item),
                    Err(err) => tracing::warn!("turn {turn}: unreadable item: {err}"),
                }
            }
            events::Event::Steered {
                input,
                user_message_id,
                client_user_message_id,
            } => items.push(steered_item(
                input,
                user_message_id,
                client_user_message_id,
                at_ms,
            )),
            events::Event::TurnEnded { .. } => ended_at_ms = Some(entry.at_ms as i64),
            _ => {}
        }
    }
    let exit = runner::client::read_exit_record(dir).ok().flatten();
    let (status, error) = match exit {
        Some(exit) => (
            match exit.status {
                events::TurnStatus::Completed => TurnStatus::Completed,
                events::TurnStatus::Interrupted => TurnStatus::Interrupted,
                events::TurnStatus::Failed => TurnStatus::Failed,
            },
            exit.error.map(|e| TurnError {
                additional_details: e.additional_details,
                ..turn_error(e.message, Some(CodexErrorInfo::Other))
            }),
        ),
        None => (TurnStatus::InProgress, None),
    };
    Some(Turn {
        id: turn.to_string(),
        root_turn_id: Some(turn.to_string()),
        items,
        items_view: ItemsView::Full,
        status,
        error,
        started_at: Some(record.started_at_ms / 1000),
        completed_at: ended_at_ms.map(|ms| ms / 1000),
        duration_ms: ended_at_ms.map(|ms| ms - record.started_at_ms),
    })
}

fn io_error(err: store::StoreError) -> std::io::Error {
    std::io::Error::other(err.to_string())
}

fn user_message_item(record: &TurnRecord) -> ThreadItem {
    ThreadItem {
        kind: ThreadItemKind::UserMessage {
            id: record.user_message_id.clone(),
            client_id: record.client_user_message_id.clone(),
            content: record.input.clone(),
        },
        started_at_ms: Some(record.started_at_ms),
        completed_at_ms: Some(record.started_at_ms),
    }
}

/// The userMessage item of input steered into a running turn (a `steered` record).
fn steered_item(
    input: Value,
    user_message_id: String,
    client_user_message_id: Option<String>,
    at_ms: i64,
) -> ThreadItem {
    let content = serde_json::from_value::<Vec<UserInput>>(input).unwrap_or_else(|err| {
        tracing::warn!("a steered input does not read as user input: {err}");
        Vec::new()
    });
    ThreadItem {
        kind: ThreadItemKind::UserMessage {
            id: user_message_id,
            client_id: client_user_message_id,
            content,
        },
        started_at_ms: Some(at_ms),
        completed_at_ms: Some(at_ms),
    }
}

fn turn_error(message: String, info: Option<CodexErrorInfo>) -> TurnError {
    TurnError {
        message,
        codex_error_info: info,
        additional_details: None,
        misalignment: None,
    }
}

/// Gives a backend's item every member Codex sends (`null` where it does not apply) by
/// reading it as a protocol item; an item that does not read is passed on as it is.
fn normalize_item(item: Value, started_at_ms: Option<i64>, completed_at_ms: Option<i64>) -> Value {
    match serde_json::from_value::<ThreadItem>(item.clone()) {
        Ok(mut typed) => {
            if typed.started_at_ms.is_none() {
                typed.started_at_ms = started_at_ms.or(completed_at_ms);
            }
            if typed.completed_at_ms.is_none() {
                typed.completed_at_ms = completed_at_ms;
            }
            serde_json::to_value(&typed).unwrap_or(item)
        }
        Err(err) => {
            tracing::warn!("a backend item does not read as a protocol item: {err}");
            item
        }
    }
}

fn item_time(item: &Value, key: &str) -> Option<i64> {
    item.get(key).and_then(Value::as_i64)
}

/// How many characters of text an input holds (Codex counts text only).
fn input_chars(input: &UserInput) -> usize {
    match input {
        UserInput::Text { text, .. } => text.chars().count(),
        _ => 0,
    }
}

/// How a turn's local images reach its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageDelivery {
    /// With the backend's own flag (`spec.json` `images`); the prompt does not name them.
    Flags,
    /// As `[image: PATH]` lines of the prompt.
    PromptLines,
}

/// The provider as the runner's spec holds it; `resuming`: the turn resumes a recorded
/// session, and runs the provider's `resume_args` if it has them.
fn spec_provider(provider: &crate::config::Provider, resuming: bool) -> spec::Provider {
    let args = match (resuming, &provider.resume_args) {
        (true, Some(resume_args)) => resume_args.clone(),
        (true, None) | (false, _) => provider.args.clone(),
    };
    spec::Provider {
        name: provider.name.clone(),
        kind: match provider.kind {
            ProviderKind::Jsonl => spec::BackendKind::Jsonl,
            ProviderKind::Codex => spec::BackendKind::Codex,
            ProviderKind::Claude => spec::BackendKind::Claude,
            ProviderKind::Gemini => spec::BackendKind::Gemini,
        },
        command: provider.command.clone(),
        args,
        env: provider.env.keys().cloned().collect(),
        prompt_via: match provider.prompt_via {
            ConfigPromptVia::Arg => spec::PromptVia::Arg,
            ConfigPromptVia::Stdin => spec::PromptVia::Stdin,
        },
        approvals: provider.approvals.into(),
        input: provider.input.into(),
    }
}

/// Checks every `localImage` input before anything starts: its `path` must be absolute and
/// name a readable file (the backend runs elsewhere, later, and must find it), and it must
/// fit the backend's image flag. The error names the input: `input[1].path`.
fn check_local_images(inputs: &[UserInput], provider: &spec::Provider) -> Result<(), ErrorObject> {
    for (position, input) in inputs.iter().enumerate() {
        let UserInput::LocalImage { path, .. } = input else {
            continue;
        };
        let field = format!("input[{position}].path");
        let fail = |why: String| {
            Err(ErrorObject::invalid_params(
                "turn/start",
                format!("`{field}` {why}"),
            ))
        };
        if !Path::new(path).is_absolute() {
            return fail(format!("must be an absolute path, found {path:?}"));
        }
        // Stat first: opening a FIFO for reading would wait for a writer.
        match std::fs::metadata(path) {
            Err(err) => return fail(format!("cannot be read: {path:?}: {err}")),
            Ok(meta) if !meta.is_file() => return fail(format!("is not a file: {path:?}")),
            Ok(_) => {}
        }
        if let Err(err) = std::fs::File::open(path) {
            return fail(format!("cannot be read: {path:?}: {err}"));
        }
        if let Some(why) = backend::image_flag_problem(provider, path) {
            return fail(format!("{why}: {path:?}"));
        }
    }
    Ok(())
}

/// The paths of the local images of a turn's input, in order.
fn local_images(inputs: &[UserInput]) -> Vec<PathBuf> {
    inputs
        .iter()
        .filter_map(|input| match input {
            UserInput::LocalImage { path, .. } => Some(PathBuf::from(path)),
            _ => None,
        })
        .collect()
}

/// The prompt given to the backend: each input on its own line, in input order: a text as
/// it is, an image not attached with a flag as `[image: PATH]` or `[image: URL]`, a file
/// mentioned as `[NAME: PATH]` (`docs/backend-jsonl.md`, "The prompt").
fn prompt_text(inputs: &[UserInput], images: ImageDelivery) -> String {
    let mut parts: Vec<String> = Vec::new();
    for input in inputs {
        match input {
            UserInput::Text { text, .. } => parts.push(text.clone()),
            UserInput::LocalImage { path, .. } => match images {
                ImageDelivery::Flags => {}
                ImageDelivery::PromptLines => parts.push(format!("[image: {path}]")),
            },
            UserInput::Image { url: Some(url), .. } => parts.push(format!("[image: {url}]")),
            UserInput::Mention { name, path } | UserInput::Skill { name, path } => {
                parts.push(format!("[{name}: {path}]"))
            }
            _ => {}
        }
    }
    parts.join("\n")
}
