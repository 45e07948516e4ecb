//! `turn/start` as a pipeline of small steps: check the request, join a running turn or
//! claim the thread, plan the turn (pure, `plan.rs`), write and launch it, then answer and
//! announce it and follow its records.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::super::review::{self, ReviewRecord};
use super::super::state::{Ephemeral, LoadedStatus, Reply, Server, now_ms, to_value};
use super::super::threads::thread_id;
use super::super::usage;
use super::plan::{
    PlanInput, TurnPlan, permission_refusal, persisted_settings, plan, resume_session,
    spec_provider,
};
use super::*;
use super::{control::*, input::*};
use crate::atomic_file;
use crate::config::Provider;
use crate::events;
use crate::jsonrpc::{ErrorObject, RequestId};
use crate::protocol::*;
use crate::runner::spare::NotAdopted;
use crate::store::turn_dir;
use crate::store::{self, ThreadRecord, Timestamp};
use crate::{runner, spec};

/// What `turn/start` checked before anything happens.
struct Checked {
    thread: Uuid,
    record: ThreadRecord,
    ephemeral: Ephemeral,
    provider: Provider,
    cwd: String,
}

/// Where a `turn/start` goes after its checks.
enum Route {
    /// A new turn.
    New(Box<Checked>),
    /// The thread's running turn takes the input (its backend reads input mid-turn).
    Join { dir: PathBuf, turn: Uuid },
}

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
    let written = crate::turn_control::record_end(
        dir,
        events::EndReason::RunnerError,
        message,
        crate::turn_control::next_seq(dir).unwrap_or(1),
    );
    if let Err(err) = written {
        tracing::warn!("cannot record the end of {}: {err}", dir.display());
    }
}

fn active_error(turn: Uuid) -> ErrorObject {
    ErrorObject::request_failed(format!(
        "a turn is already active on this thread: {turn}; use turn/steer or turn/interrupt"
    ))
}

impl Server {
    pub(crate) async fn turn_start(&mut self, id: &RequestId, p: TurnStartParams) -> Option<Reply> {
        self.start_turn(id, p, None).await
    }

    /// A new turn of `p.thread_id`, answered and announced; `review`: the turn is a review
    /// (`review/start`), answered and announced as one.
    pub(crate) async fn start_turn(
        &mut self,
        id: &RequestId,
        p: TurnStartParams,
        review: Option<ReviewRecord>,
    ) -> Option<Reply> {
        let checked = match self.check_turn_start(&p) {
            Ok(Route::New(checked)) => checked,
            Ok(Route::Join { turn, .. }) if review.is_some() => {
                return Some(Err(active_error(turn)));
            }
            Ok(Route::Join { dir, turn }) => return Some(join_running_turn(&dir, turn, &p).await),
            Err(err) => return Some(Err(err)),
        };
        // One turn at a time per thread, also across the servers sharing the state directory:
        // the thread's lock is held from the look at its last turn until this turn's runner
        // has written its process record, so two servers cannot both start one, and one that
        // looks meanwhile sees a runner it can follow.
        let lock = match self.claim_for_new_turn(&checked, &p.thread_id).await {
            Ok(lock) => lock,
            Err(err) => return Some(Err(err)),
        };
        let launched = self.plan_and_launch(&checked, &p, review).await;
        // Released before the record update below, which takes the same lock.
        drop(lock);
        let (plan, dir) = match launched {
            Ok(launched) => launched,
            Err(err) => return Some(Err(err)),
        };
        self.mark_started(&checked, &plan, &dir);
        self.announce_started(id, checked.thread, &plan).await;
        self.follow(checked.thread, plan.turn, dir, 1);
        None
    }

    /// The checks made before anything happens: the thread is loaded, the input fits, the
    /// provider is configured, the local images and the cwd are usable. A running turn that
    /// takes input mid-turn is joined instead.
    fn check_turn_start(&mut self, p: &TurnStartParams) -> Result<Route, ErrorObject> {
        let uuid = thread_id(&p.thread_id)?;
        self.refresh(uuid);
        let loaded = self.loaded.get(&uuid).ok_or_else(|| {
            ErrorObject::request_failed(format!("thread not found: {}", p.thread_id))
        })?;
        check_input_size(&p.input)?;
        if let Some(active) = &loaded.active {
            // Like Codex: the input joins the running turn, whose id is the answer, when its
            // backend can take input mid-turn; refused otherwise, never dropped.
            if active.review.is_some() {
                return Err(review::not_steerable());
            }
            if !streams_input(&active.dir) {
                return Err(active_error(active.turn_id));
            }
            return Ok(Route::Join {
                dir: active.dir.clone(),
                turn: active.turn_id,
            });
        }
        let record = loaded.record.clone();
        let provider_name = &record.model_provider;
        let provider = self
            .config
            .provider(provider_name)
            .cloned()
            .ok_or_else(|| {
                ErrorObject::invalid_params(
                    "turn/start",
                    format!(
                        "the thread's model provider `{provider_name}` is no longer configured"
                    ),
                )
            })?;
        // Checked with the command line the thread's record implies; again after the plan,
        // under the thread's lock, with the one the last turn decides.
        let resuming = record.continue_session && record.backend_session_id.is_some();
        check_local_images(&p.input, &spec_provider(&provider, resuming))?;
        let cwd = match p.cwd.as_deref() {
            Some(dir) => super::super::threads::check_cwd("turn/start", dir)?.to_string(),
            None => record.cwd.clone(),
        };
        Ok(Route::New(Box::new(Checked {
            thread: uuid,
            ephemeral: loaded.ephemeral,
            record,
            provider,
            cwd,
        })))
    }

    /// The thread's cross-process lock for a new turn (none for an ephemeral thread, which
    /// no other server knows). A turn running under another server is followed, so that
    /// this client sees its end and can interrupt it, and the request is refused.
    async fn claim_for_new_turn(
        &mut self,
        checked: &Checked,
        raw_thread_id: &str,
    ) -> Result<Option<store::ThreadLock>, ErrorObject> {
        if checked.ephemeral == Ephemeral::Yes {
            return Ok(None);
        }
        let thread = checked.thread;
        match tokio::task::block_in_place(|| self.claim_thread(thread)) {
            Ok(lock) => Ok(Some(lock)),
            Err(Claim::Running(other)) => {
                self.reattach(thread);
                let active = ThreadStatusChangedNotification {
                    thread_id: raw_thread_id.to_owned(),
                    status: ThreadStatus::Active {
                        active_flags: Vec::new(),
                    },
                };
                self.notify_thread(thread, ServerNotification::ThreadStatusChanged(active))
                    .await;
                Err(active_error(other))
            }
            Err(Claim::Starting(other)) => Err(ErrorObject::request_failed(format!(
                "a turn is starting on this thread: {other}; retry when it has started"
            ))),
            Err(Claim::Store(err)) => Err(ErrorObject::internal(format!(
                "cannot lock the thread: {err}"
            ))),
        }
    }

    /// Under the thread's lock: reads what the earlier turns left, plans the turn, checks
    /// its images against the command line it will run, writes its directory and launches
    /// its runner.
    async fn plan_and_launch(
        &mut self,
        checked: &Checked,
        p: &TurnStartParams,
        review: Option<ReviewRecord>,
    ) -> Result<(TurnPlan, PathBuf), ErrorObject> {
        // What the turns before this one recorded (the backend session to resume) is read
        // under the lock, after they have ended.
        let record = match checked.ephemeral {
            Ephemeral::No => {
                self.refresh(checked.thread);
                self.loaded
                    .get(&checked.thread)
                    .map_or(checked.record.clone(), |loaded| loaded.record.clone())
            }
            Ephemeral::Yes => checked.record.clone(),
        };
        let earlier = self.turn_dirs(checked.thread, checked.ephemeral);
        let newest_first = || earlier.iter().rev().map(PathBuf::as_path);
        let last_announced = newest_first()
            .next()
            .and_then(|dir| usage::read_turn_usage(dir).session_id);
        let resume_session_id = resume_session(&record, last_announced);
        let usage_base = usage::base(newest_first(), resume_session_id.as_deref());
        let mut plan = plan(PlanInput {
            params: p,
            thread: &record,
            provider: &checked.provider,
            cwd: checked.cwd.clone(),
            interrupt: &self.config.interrupt,
            notify: &self.config.notify,
            resume_session_id,
            usage_base,
            turn_id: store::new_id(),
            user_message_id: store::new_id(),
            started_at_ms: now_ms(),
        });
        plan.record.review = review;
        check_local_images(&p.input, &plan.spec.provider)?;
        let as_root = rustix::process::geteuid().is_root();
        if let Some(why) = permission_refusal(&plan.spec, &checked.provider, as_root) {
            return Err(ErrorObject::invalid_params("turn/start", why));
        }
        let dir = self.turn_dir_for(checked.thread, plan.turn, checked.ephemeral)?;
        self.launch_planned(&dir, &plan, &checked.provider)?;
        Ok((plan, dir))
    }

    /// Writes `turn.json`, `spec.json` and the completion notice the turn owes (before the
    /// runner starts: a quick turn may end before the launch returns) and launches the
    /// runner, which reports ready by writing its process record. The launch waits (bounded); the loop waits with it, so
    /// the order of events stays the order of requests, while the runtime's other tasks
    /// (turns being followed, the writer) go on.
    fn launch_planned(
        &mut self,
        dir: &Path,
        plan: &TurnPlan,
        provider: &Provider,
    ) -> Result<(), ErrorObject> {
        // The two records of a new turn go to disk together: one directory fsync, not two.
        let turn_file = dir.join(TURN_FILE);
        let spec_file = dir.join(spec::SPEC_FILE);
        atomic_file::json_bytes(&plan.record)
            .and_then(|record| Ok((record, atomic_file::json_bytes(&plan.spec)?)))
            .and_then(|(record, spec)| {
                atomic_file::write_atomic_all(&[(&turn_file, &record), (&spec_file, &spec)])
            })
            .and_then(|()| match &plan.notice {
                Some(notice) => crate::notify::owe(dir, &notice.argv, notice.timeout_ms),
                None => Ok(()),
            })
            .map_err(|err| {
                ErrorObject::internal(format!("cannot write the turn directory: {err}"))
            })?;
        let launcher = self.config.launcher.clone();
        // A warm spare is a local runner: a provider placed by an engine starts cold.
        let warm_spare = provider.warm_spare
            && launcher.kind_for(&provider.name) == crate::config::LauncherKind::Local;
        let warm = match warm_spare {
            true => self.spares.take(&plan.spec, &provider.env),
            false => None,
        };
        let lifeline = match plan.mode() {
            events::Mode::Foreground => Some(self.lifeline().map_err(ErrorObject::internal)?),
            events::Mode::Background => None,
        };
        let launched = tokio::task::block_in_place(|| {
            let cold = || {
                crate::launcher::launch(
                    &launcher,
                    &provider.name,
                    dir,
                    plan.mode(),
                    lifeline,
                    &provider.env,
                )
            };
            match warm.map(|spare| spare.adopt(dir, runner::launch::DEFAULT_READY_TIMEOUT)) {
                Some(Ok(_)) => Ok(()),
                Some(Err(NotAdopted::Gone)) | None => cold(),
                Some(Err(NotAdopted::Failed(err))) => Err(err),
            }
        });
        if warm_spare {
            self.refill_spare(&plan.spec, &provider.env);
        }
        launched.map_err(|err| {
            let message = format!("failed to start the turn's runner: {err}");
            // The turn never ran: its exit record says so, so nobody waits for it to start.
            end_unlaunched(dir, &message);
            ErrorObject::internal(message)
        })
    }

    /// The thread now has a running turn: its record (preview, update time) and its state
    /// in this server.
    fn mark_started(&mut self, checked: &Checked, plan: &TurnPlan, dir: &Path) {
        let thread = checked.thread;
        if checked.ephemeral == Ephemeral::No {
            let first_text = plan.user_prompt.clone();
            let (approval, sandbox) = persisted_settings(&plan.spec);
            let stored = self.store.update_thread(thread, |r| {
                r.has_turns = true;
                // As in Codex, the turn's settings stay the thread's for its later turns.
                if let Some(approval) = approval {
                    r.approval_policy = approval;
                }
                if let Some(sandbox) = sandbox {
                    r.sandbox = sandbox;
                }
                if r.preview.is_empty() {
                    r.preview = first_text.chars().take(400).collect();
                }
                r.touch(Timestamp::now());
            });
            match stored {
                Ok(stored) => {
                    if let Some(loaded) = self.loaded.get_mut(&thread) {
                        loaded.record = stored;
                    }
                }
                Err(err) => tracing::warn!("cannot update thread {thread}: {err}"),
            }
        }
        if let Some(loaded) = self.loaded.get_mut(&thread) {
            loaded.active = Some(ActiveTurn {
                turn_id: plan.turn,
                dir: dir.to_path_buf(),
                started_at_ms: plan.record.started_at_ms,
                final_message: None,
                last_error: None,
                summary_parts: BTreeSet::new(),
                waiting_approvals: Vec::new(),
                review: plan.record.review.clone(),
            });
            loaded.status = LoadedStatus::Active {
                waiting_on_approval: false,
            };
        }
    }

    /// The response, then `thread/status/changed`, `turn/started` and the turn's opening
    /// items (a review's `enteredReviewMode`, the user's message), as Codex sends them.
    async fn announce_started(&mut self, id: &RequestId, thread: Uuid, plan: &TurnPlan) {
        let turn = plan.turn;
        let thread_id = plan.spec.thread_id.clone();
        let response = match &plan.record.review {
            Some(review) => review::start_response(turn, &thread_id, review),
            None => to_value(&TurnStartResponse {
                turn: running_turn(turn),
            }),
        };
        self.respond_now(id, response).await;
        let mut started = running_turn(turn);
        started.started_at = Some(plan.record.started_at_ms / 1000);
        let at_ms = plan.record.started_at_ms;
        let mut notifications = vec![
            ServerNotification::ThreadStatusChanged(ThreadStatusChangedNotification {
                thread_id: thread_id.clone(),
                status: ThreadStatus::Active {
                    active_flags: Vec::new(),
                },
            }),
            ServerNotification::TurnStarted(TurnStartedNotification {
                thread_id: thread_id.clone(),
                turn: started,
            }),
        ];
        for item in opening_items(&plan.record) {
            let turn_id = plan.record.turn_id.clone();
            notifications.push(item_started(
                thread_id.clone(),
                turn_id.clone(),
                item.clone(),
                at_ms,
            ));
            notifications.push(item_completed(thread_id.clone(), turn_id, item, at_ms));
        }
        for notification in notifications {
            self.notify_thread(thread, notification).await;
        }
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
        super::super::recovery::recover_turn(&dir, &mut crate::launcher::Recovery::from_env());
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
