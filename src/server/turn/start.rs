//! `turn/start`: check, claim the thread, plan, launch, answer and announce.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::json;
use uuid::Uuid;

use super::super::state::{LoadedStatus, Reply, Server, now_ms, to_value};
use super::super::threads::thread_id;
use super::super::usage;
use super::*;
use super::{control::*, input::*, plan::*};
use crate::atomic_file;
use crate::backend;
use crate::events::{self, Mode};
use crate::jsonrpc::{ErrorObject, RequestId};
use crate::protocol::*;
use crate::runner::{self, spec};
use crate::store::turn_dir;
use crate::store::{self, Timestamp};

/// Why a new turn cannot start on a thread (see [`Server::claim_thread`]).
pub(super) enum Claim {
    /// Its last turn is running under a live runner.
    Running(Uuid),
    /// Its last turn has no runner yet and may still be launching.
    Starting(Uuid),
    Store(store::StoreError),
}

/// Records the end of a turn whose runner could not be started.
pub(super) fn end_unlaunched(dir: &Path, message: &str) {
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
            Some(dir) => match super::super::threads::check_cwd("turn/start", dir) {
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
            super::super::state::Ephemeral::Yes => None,
            super::super::state::Ephemeral::No => {
                match tokio::task::block_in_place(|| self.claim_thread(uuid)) {
                    Ok(lock) => Some(lock),
                    Err(Claim::Running(other)) => {
                        // Another server's turn: follow it, so this client sees its end and
                        // can interrupt it.
                        self.reattach(uuid);
                        self.notify_thread(
                            uuid,
                            ServerNotification::ThreadStatusChanged(
                                ThreadStatusChangedNotification {
                                    thread_id: p.thread_id.clone(),
                                    status: ThreadStatus::Active {
                                        active_flags: Vec::new(),
                                    },
                                },
                            ),
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
        if ephemeral == super::super::state::Ephemeral::No {
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
            ServerNotification::ThreadStatusChanged(ThreadStatusChangedNotification {
                thread_id: p.thread_id.clone(),
                status: ThreadStatus::Active {
                    active_flags: Vec::new(),
                },
            }),
        )
        .await;
        let mut started = response_turn;
        started.started_at = Some(started_at_ms / 1000);
        self.notify_thread(
            uuid,
            ServerNotification::TurnStarted(TurnStartedNotification {
                thread_id: p.thread_id.clone(),
                turn: started,
            }),
        )
        .await;
        let user_item = user_message_item(&turn_record);
        for notification in [
            item_started(
                p.thread_id.clone(),
                turn_id.to_string(),
                user_item.clone(),
                started_at_ms,
            ),
            item_completed(
                p.thread_id.clone(),
                turn_id.to_string(),
                user_item,
                started_at_ms,
            ),
        ] {
            self.notify_thread(uuid, notification).await;
        }
        self.follow(uuid, turn_id, dir, 1);
        None
    }

    /// Takes the thread's cross-process lock for a new turn, after making sure its last turn
    /// has ended. A last turn whose runner died is ended here the way recovery ends it; a
    /// live one (another server's, or this server's before a restart) is refused.
    pub(super) fn claim_thread(&self, thread: Uuid) -> Result<store::ThreadLock, Claim> {
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
        super::super::recovery::recover_turn(&dir);
        if ended(&dir) {
            Ok(lock)
        } else {
            // No process record yet and too young to be given up: a launch that is not
            // ours and not under the lock (a server that died while launching).
            Err(Claim::Starting(turn))
        }
    }

    /// The directories of a thread's turns, oldest first.
    pub(super) fn turn_dirs(
        &self,
        thread: Uuid,
        ephemeral: super::super::state::Ephemeral,
    ) -> Vec<PathBuf> {
        let turns_dir = match ephemeral {
            super::super::state::Ephemeral::No => turn_dir::durable_turns(&self.state_dir, thread),
            super::super::state::Ephemeral::Yes => {
                turn_dir::ephemeral_turns(&self.state_dir, thread)
            }
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

    pub(super) fn turn_dir_for(
        &self,
        thread: Uuid,
        turn: Uuid,
        ephemeral: super::super::state::Ephemeral,
    ) -> Result<PathBuf, ErrorObject> {
        let made = match ephemeral {
            super::super::state::Ephemeral::No => self.store.create_turn_dir(thread, turn),
            super::super::state::Ephemeral::Yes => {
                self.store.create_ephemeral_turn_dir(thread, turn)
            }
        };
        made.map_err(|err| {
            ErrorObject::internal(format!("cannot create the turn directory: {err}"))
        })
    }
}
