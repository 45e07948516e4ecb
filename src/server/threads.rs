//! The `thread/*` methods.
//!
//! Texts of errors that clients match on are Codex's (`thread not found: <id>`, `no rollout
//! found for thread id <id>`, …). A thread id is parsed as a UUID before it touches the store.

use std::path::Path;

use serde_json::json;
use uuid::Uuid;

use super::state::{Ephemeral, LoadedStatus, LoadedThread, Reply, Server, Subscription, to_value};
use crate::jsonrpc::{ErrorObject, RequestId};
use crate::protocol::*;
use crate::store::{self, ArchiveState, ListQuery, StoreError, ThreadRecord, Timestamp};

pub(crate) fn no_rollout(id: &str) -> ErrorObject {
    ErrorObject::request_failed(format!("no rollout found for thread id {id}"))
}

/// A client's `cwd` for a thread or turn: an absolute path to an existing directory, else
/// `-32602` naming the path.
pub(crate) fn check_cwd<'a>(method: &str, dir: &'a str) -> Result<&'a str, ErrorObject> {
    let path = Path::new(dir);
    let why = if !path.is_absolute() {
        "is not an absolute path"
    } else if !path.is_dir() {
        "is not a directory"
    } else {
        return Ok(dir);
    };
    Err(ErrorObject::invalid_params(
        method,
        format!("`cwd` {why}: {dir}"),
    ))
}

/// Parses a thread id; Codex's message for a malformed one.
pub(crate) fn thread_id(raw: &str) -> Result<Uuid, ErrorObject> {
    store::parse_id(raw).map_err(|err| ErrorObject::request_failed(err.to_string()))
}

impl Server {
    pub(crate) async fn dispatch(
        &mut self,
        id: &RequestId,
        request: ClientRequest,
    ) -> Option<Reply> {
        match request {
            ClientRequest::Initialize(_) => Some(Err(ErrorObject::already_initialized())),
            ClientRequest::ThreadStart(p) => self.thread_start(id, p).await,
            ClientRequest::ThreadResume(p) => self.thread_resume(id, p).await,
            ClientRequest::ThreadFork(p) => self.thread_fork(id, p).await,
            ClientRequest::ThreadList(p) => Some(self.thread_list(p)),
            ClientRequest::ThreadRead(p) => Some(self.thread_read(p)),
            ClientRequest::ThreadLoadedList(p) => Some(self.thread_loaded_list(p)),
            ClientRequest::ThreadUnsubscribe(p) => Some(self.thread_unsubscribe(p)),
            ClientRequest::ThreadNameSet(p) => self.thread_name_set(id, p).await,
            ClientRequest::ThreadArchive(p) => self.thread_archive(id, p).await,
            ClientRequest::ThreadUnarchive(p) => self.thread_unarchive(id, p).await,
            ClientRequest::ThreadDelete(p) => self.thread_delete(id, p).await,
            ClientRequest::ThreadGoalSet(p) => self.thread_goal_set(id, p).await,
            ClientRequest::ThreadGoalGet(p) => Some(self.thread_goal_get(p)),
            ClientRequest::ThreadGoalClear(p) => self.thread_goal_clear(id, p).await,
            ClientRequest::ThreadMemoryModeSet(p) => Some(self.thread_memory_mode_set(p)),
            ClientRequest::TurnStart(p) => self.turn_start(id, p).await,
            ClientRequest::TurnInterrupt(p) => Some(self.turn_interrupt(p).await),
            ClientRequest::TurnSteer(p) => Some(self.turn_steer(p).await),
            ClientRequest::CommandExec(p) => self.command_exec(id, p),
            ClientRequest::CommandExecWrite(p) => Some(self.command_exec_write(p)),
            ClientRequest::CommandExecTerminate(p) => Some(self.command_exec_terminate(p)),
            ClientRequest::CommandExecResize(p) => Some(self.command_exec_resize(p)),
            ClientRequest::AccountRead(p) => Some(self.account_read(p).await),
            ClientRequest::ConfigRead(p) => Some(self.config_read(p)),
            ClientRequest::ModelList(p) => Some(self.model_list(p).await),
            ClientRequest::ReviewStart(p) => self.review_start(id, p).await,
            import @ (ClientRequest::ExternalAgentConfigDetect(_)
            | ClientRequest::ExternalAgentConfigImport(_)
            | ClientRequest::ExternalAgentConfigImportHistoryRecord(_)
            | ClientRequest::ExternalAgentConfigImportHistoriesRead(_)) => {
                self.external_agent_config(id, import).await
            }
        }
    }

    fn resolve_provider(&self, requested: Option<&str>) -> Result<String, ErrorObject> {
        let name = match requested {
            Some(name) => name.to_string(),
            None => self.config.default_provider_name().to_string(),
        };
        if self.config.provider(&name).is_none() {
            let known: Vec<&str> = self.config.providers().map(|p| p.name.as_str()).collect();
            return Err(ErrorObject::invalid_params(
                "thread/start",
                format!(
                    "unknown model provider `{}`; configured providers: {}",
                    crate::jsonrpc::quote(&name),
                    known.join(", ")
                ),
            ));
        }
        Ok(name)
    }

    /// The thread's working directory: the one asked for, which must be an absolute path to
    /// an existing directory (a backend started elsewhere would run somewhere else), or the
    /// server's own when none is asked for (as Codex).
    fn resolve_cwd(method: &str, cwd: Option<&str>) -> Result<String, ErrorObject> {
        match cwd {
            Some(dir) => check_cwd(method, dir).map(str::to_string),
            None => std::env::current_dir()
                .map(|base| base.display().to_string())
                .map_err(ErrorObject::internal),
        }
    }

    /// Codex's gate for experimental fields: without `experimentalApi` they are refused.
    fn check_experimental(&self, p: &ThreadStartParams) -> Result<(), ErrorObject> {
        if self.session.as_ref().is_some_and(|s| s.experimental_api) {
            return Ok(());
        }
        let gated = if p.mock_experimental_field.is_some() {
            Some("thread/start.mockExperimentalField")
        } else if p.dynamic_tools.is_some() {
            Some("thread/start.dynamicTools")
        } else if matches!(p.approval_policy, Some(AskForApproval::Granular(_))) {
            Some("askForApproval.granular")
        } else {
            None
        };
        match gated {
            Some(descriptor) => Err(ErrorObject::request_failed(format!(
                "{descriptor} requires experimentalApi capability"
            ))),
            None => Ok(()),
        }
    }

    async fn thread_start(&mut self, id: &RequestId, p: ThreadStartParams) -> Option<Reply> {
        if let Err(err) = self.check_experimental(&p) {
            return Some(Err(err));
        }
        let built = (|| -> Result<ThreadRecord, ErrorObject> {
            let provider = self.resolve_provider(p.model_provider.as_deref())?;
            let cwd = Self::resolve_cwd("thread/start", p.cwd.as_deref())?;
            let now = Timestamp::now();
            let default_model = self
                .config
                .provider(&provider)
                .and_then(|prov| prov.model.clone());
            let continue_session = p.continue_session.unwrap_or_else(|| {
                self.config
                    .provider(&provider)
                    .is_some_and(|prov| prov.continue_session)
            });
            self.check_continue_session("thread/start", p.continue_session, &provider)?;
            let mut record = ThreadRecord::new(
                store::new_id(),
                cwd,
                provider,
                env!("CARGO_PKG_VERSION").to_string(),
                now,
            );
            record.model = p.model.clone().or(default_model);
            record.originator = self.originator();
            record.approval_policy = serde_json::to_value(
                p.approval_policy
                    .clone()
                    .unwrap_or(super::info::DEFAULT_APPROVAL_POLICY),
            )
            .unwrap_or(json!("on-request"));
            record.sandbox =
                serde_json::to_value(p.sandbox.unwrap_or(super::info::DEFAULT_SANDBOX))
                    .unwrap_or(json!("read-only"));
            record.continue_session = continue_session;
            Ok(record)
        })();
        let record = match built {
            Ok(record) => record,
            Err(err) => return Some(Err(err)),
        };
        let uuid = match self.store_and_load(record, Ephemeral::from_flag(p.ephemeral)) {
            Ok(uuid) => uuid,
            Err(err) => return Some(Err(err)),
        };
        let response = self.thread_session_response(&uuid, Vec::new());
        self.respond_now(id, to_value(&response)).await;
        let thread = response.thread;
        self.notify(ServerNotification::ThreadStarted(
            ThreadStartedNotification { thread },
        ))
        .await;
        None
    }

    /// Stores a new thread (unless ephemeral) and loads it.
    pub(crate) fn store_and_load(
        &mut self,
        record: ThreadRecord,
        ephemeral: Ephemeral,
    ) -> Result<Uuid, ErrorObject> {
        if ephemeral == Ephemeral::No {
            self.store
                .create_thread(&record)
                .map_err(|err| ErrorObject::internal(format!("cannot store the thread: {err}")))?;
        }
        let uuid = record.id;
        self.load(uuid, record, ephemeral);
        Ok(uuid)
    }

    fn load(&mut self, uuid: Uuid, record: ThreadRecord, ephemeral: Ephemeral) {
        if !self.loaded.contains_key(&uuid) {
            self.load_order.push(uuid);
        }
        self.loaded.insert(
            uuid,
            LoadedThread {
                record,
                ephemeral,
                subscription: Subscription::Subscribed,
                status: LoadedStatus::Idle,
                active: None,
                _mark: super::state::loaded_mark(&self.store, uuid, ephemeral),
            },
        );
    }

    /// Re-reads a loaded thread's record: another server on the same state directory may
    /// have changed it (a name, an archive).
    pub(crate) fn refresh(&mut self, uuid: Uuid) {
        let Some(loaded) = self.loaded.get_mut(&uuid) else {
            return;
        };
        if loaded.ephemeral == Ephemeral::Yes {
            return;
        }
        match self.store.read_thread(uuid) {
            Ok(Some(record)) => loaded.record = record,
            // Deleted by another server on the state directory: gone here too, once the turn
            // this server follows (which the deletion stopped) has ended here.
            Ok(None) if loaded.active.is_none() => self.unload(&uuid),
            Ok(None) => {}
            Err(err) => tracing::warn!("cannot re-read thread {uuid}: {err}"),
        }
    }

    pub(crate) fn unload(&mut self, uuid: &Uuid) {
        self.loaded.remove(uuid);
        self.load_order.retain(|u| u != uuid);
    }

    /// The protocol view of a loaded thread.
    pub(crate) fn loaded_view(&self, uuid: &Uuid, turns: Vec<Turn>) -> Option<Thread> {
        let loaded = self.loaded.get(uuid)?;
        Some(super::convert::thread(
            &loaded.record,
            &self.state_dir,
            super::convert::Loaded::Yes(&loaded.status, loaded.ephemeral),
            turns,
        ))
    }

    fn thread_session_response(&self, uuid: &Uuid, turns: Vec<Turn>) -> ThreadStartResponse {
        let loaded = &self.loaded[uuid];
        let thread = super::convert::thread(
            &loaded.record,
            &self.state_dir,
            super::convert::Loaded::Yes(&loaded.status, loaded.ephemeral),
            turns,
        );
        super::convert::session_response(&loaded.record, thread)
    }

    async fn thread_resume(&mut self, id: &RequestId, p: ThreadResumeParams) -> Option<Reply> {
        let uuid = match thread_id(&p.thread_id) {
            Ok(uuid) => uuid,
            Err(err) => return Some(Err(err)),
        };
        let exclude_turns = p.exclude_turns.unwrap_or(false);
        self.refresh(uuid);
        if let Some(flag) = p.continue_session {
            // Stored before anything else answers: later turns, in any server, follow it.
            if let Err(err) = self.set_continue_session(uuid, flag) {
                return Some(Err(err));
            }
        }
        if let Some(loaded) = self.loaded.get_mut(&uuid) {
            if loaded.ephemeral == Ephemeral::Yes {
                return Some(Err(no_rollout(&p.thread_id)));
            }
            loaded.subscription = Subscription::Subscribed;
            let idle = loaded.active.is_none();
            if idle {
                // A turn another server started meanwhile: follow it from now on.
                self.reattach(uuid);
                if self.loaded.get(&uuid).is_some_and(|l| l.active.is_some()) {
                    self.announce_status(uuid, &p.thread_id).await;
                }
            }
            self.respond_with_thread(id, uuid, exclude_turns).await;
            // Like Codex for a loaded idle thread: the last token usage, replayed.
            let still_idle = self.loaded.get(&uuid).is_some_and(|l| l.active.is_none());
            if still_idle {
                self.replay_token_usage(uuid).await;
            }
            self.announce_goal_on_resume(uuid).await;
            return None;
        }
        let record = match self.store.read_thread(uuid) {
            Ok(Some(record)) if !record.archived => record,
            Ok(_) => return Some(Err(no_rollout(&p.thread_id))),
            Err(err) => return Some(Err(ErrorObject::internal(err))),
        };
        self.load(uuid, record, Ephemeral::No);
        self.reattach(uuid);
        self.announce_status(uuid, &p.thread_id).await;
        self.respond_with_thread(id, uuid, exclude_turns).await;
        self.ask_waiting_approvals(uuid).await;
        // Like Codex after a resume from disk: the last token usage, replayed.
        self.replay_token_usage(uuid).await;
        self.announce_goal_on_resume(uuid).await;
        None
    }

    /// Refuses `continueSession: true` for a provider that cannot resume a session (its
    /// turns would silently start fresh).
    fn check_continue_session(
        &self,
        method: &str,
        flag: Option<bool>,
        provider: &str,
    ) -> Result<(), ErrorObject> {
        match self.config.provider(provider) {
            Some(prov) if flag == Some(true) && !prov.can_resume() => {
                Err(ErrorObject::invalid_params(
                    method,
                    format!(
                        "`continueSession`: provider `{provider}` cannot resume a session; give it \
                         `resume_args` (kinds codex, claude and gemini with empty args resume on their own)"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// `thread/resume` with `continueSession`: checked, then stored in the thread's record
    /// (unknown, archived and ephemeral threads are left to the usual errors).
    fn set_continue_session(&mut self, uuid: Uuid, flag: bool) -> Result<(), ErrorObject> {
        let record = match self.loaded.get(&uuid) {
            Some(loaded) if loaded.ephemeral == Ephemeral::Yes => return Ok(()),
            Some(loaded) => loaded.record.clone(),
            None => match self.store.read_thread(uuid) {
                Ok(Some(record)) if !record.archived => record,
                Ok(_) | Err(_) => return Ok(()),
            },
        };
        self.check_continue_session("thread/resume", Some(flag), &record.model_provider)?;
        if record.continue_session == flag {
            return Ok(());
        }
        let stored = self
            .store
            .update_thread(uuid, |r| r.continue_session = flag)
            .map_err(ErrorObject::internal)?;
        if let Some(loaded) = self.loaded.get_mut(&uuid) {
            loaded.record = stored;
        }
        Ok(())
    }

    /// `thread/status/changed` with the loaded thread's status (`raw_id` as the client
    /// wrote it).
    async fn announce_status(&self, uuid: Uuid, raw_id: &str) {
        let status = self
            .loaded
            .get(&uuid)
            .map_or(ThreadStatus::Idle, |l| super::convert::status(&l.status));
        let changed = ThreadStatusChangedNotification {
            thread_id: raw_id.to_owned(),
            status,
        };
        self.notify_thread(uuid, ServerNotification::ThreadStatusChanged(changed))
            .await;
    }

    /// Answers `thread/resume` or `thread/fork` with the thread, and its turns unless
    /// `exclude_turns`; returns the response.
    async fn respond_with_thread(
        &self,
        id: &RequestId,
        uuid: Uuid,
        exclude_turns: bool,
    ) -> ThreadStartResponse {
        let turns = if exclude_turns {
            Vec::new()
        } else {
            self.turns_of(&uuid)
        };
        let response = self.thread_session_response(&uuid, turns);
        self.respond_now(id, to_value(&response)).await;
        response
    }

    /// The turns of a thread, read from its turn directories.
    pub(crate) fn turns_of(&self, uuid: &Uuid) -> Vec<Turn> {
        self.read_turns(*uuid)
    }

    async fn thread_fork(&mut self, id: &RequestId, p: ThreadForkParams) -> Option<Reply> {
        let ephemeral = p.ephemeral.unwrap_or(false);
        let exclude_turns = p.exclude_turns.unwrap_or(false);
        let source = match self.fork_source(&p, ephemeral, exclude_turns) {
            Ok(source) => source,
            Err(err) => return Some(Err(err)),
        };
        let last_turn = match self.fork_last_turn(source.id, p.last_turn_id.as_deref()) {
            Ok(last_turn) => last_turn,
            Err(err) => return Some(Err(err)),
        };
        let record = match self.forked_record(&source, &p) {
            Ok(record) => record,
            Err(err) => return Some(Err(err)),
        };
        let source_id = source.id;
        let fork = Ephemeral::from_flag(Some(ephemeral));
        let new_uuid = match self.store_and_load(record, fork) {
            Ok(uuid) => uuid,
            Err(err) => return Some(Err(err)),
        };
        // Like Codex, the fork has the history also when the response leaves it out.
        self.copy_history(source_id, new_uuid, fork, last_turn);
        let response = self.respond_with_thread(id, new_uuid, exclude_turns).await;
        // Like Codex: the fork starts from the parent's token usage (its copied turns carry
        // the parent's totals), announced between the response and `thread/started` when
        // the response has the turns.
        if !exclude_turns {
            self.replay_token_usage(new_uuid).await;
        }
        let mut thread = response.thread;
        thread.turns = Vec::new();
        self.notify(ServerNotification::ThreadStarted(
            ThreadStartedNotification { thread },
        ))
        .await;
        None
    }

    /// The record of the thread a fork starts from, with Codex's errors, in Codex's order:
    /// the source first, then the `excludeTurns` an ephemeral fork needs.
    fn fork_source(
        &self,
        p: &ThreadForkParams,
        ephemeral: bool,
        exclude_turns: bool,
    ) -> Result<ThreadRecord, ErrorObject> {
        let uuid = store::parse_id(&p.thread_id).map_err(|err| {
            ErrorObject::request_failed(format!("invalid session id: {}", err.reason))
        })?;
        let source = match self.loaded.get(&uuid) {
            Some(loaded) if loaded.ephemeral == Ephemeral::Yes => Err(no_rollout(&p.thread_id)),
            Some(loaded) => Ok(loaded.record.clone()),
            None => match self.store.read_thread(uuid) {
                Ok(Some(record)) if record.archived => Err(ErrorObject::request_failed(format!(
                    "session {uuid} is archived. Unarchive it first (thread/unarchive)."
                ))),
                Ok(Some(record)) => Ok(record),
                Ok(None) => Err(no_rollout(&p.thread_id)),
                Err(err) => Err(ErrorObject::internal(err)),
            },
        }?;
        if ephemeral && !exclude_turns {
            return Err(ErrorObject::request_failed(
                "ephemeral paginated thread/fork requires `excludeTurns: true`",
            ));
        }
        Ok(source)
    }

    /// The new thread's record: the source's, as a new thread, with the fork's overrides.
    fn forked_record(
        &self,
        source: &ThreadRecord,
        p: &ThreadForkParams,
    ) -> Result<ThreadRecord, ErrorObject> {
        let now = Timestamp::now();
        let mut record = source.clone();
        record.id = store::new_id();
        record.forked_from_id = Some(source.id);
        record.name = None;
        record.created_at = now.unix_seconds();
        record.touch(now);
        record.backend_session_id = None;
        // The goal and the memory mode are the source's own (Codex does not copy them).
        record.goal = None;
        record.memory_mode = store::MemoryMode::default();
        record.originator = self.originator();
        if let Some(provider) = p.model_provider.as_deref() {
            record.model_provider = self.resolve_provider(Some(provider))?;
        }
        if let Some(model) = p.model.clone() {
            record.model = Some(model);
        }
        if p.cwd.is_some() {
            record.cwd = Self::resolve_cwd("thread/fork", p.cwd.as_deref())?;
        }
        self.check_continue_session("thread/fork", p.continue_session, &record.model_provider)?;
        if let Some(flag) = p.continue_session {
            record.continue_session = flag;
        }
        Ok(record)
    }

    fn thread_list(&self, p: ThreadListParams) -> Reply {
        let query = ListQuery {
            limit: p.limit,
            cursor: p.cursor.clone(),
            sort_key: match p.sort_key {
                Some(ThreadSortKey::UpdatedAt) | Some(ThreadSortKey::RecencyAt) => {
                    store::SortKey::UpdatedAt
                }
                Some(ThreadSortKey::CreatedAt) | Some(ThreadSortKey::SectionPosition) | None => {
                    store::SortKey::CreatedAt
                }
            },
            direction: match p.sort_direction {
                Some(SortDirection::Asc) => store::SortDirection::Asc,
                Some(SortDirection::Desc) | None => store::SortDirection::Desc,
            },
            archived: p.archived.unwrap_or(false),
            cwd: match p.cwd {
                Some(CwdFilter::One(dir)) => vec![dir],
                Some(CwdFilter::Many(dirs)) => dirs,
                None => Vec::new(),
            },
            search_term: p.search_term.clone(),
            model_providers: p.model_providers.clone().unwrap_or_default(),
        };
        let page = match self.store.list_threads(&query) {
            Ok(page) => page,
            Err(StoreError::InvalidCursor(cursor)) => {
                return Err(ErrorObject::request_failed(format!(
                    "invalid cursor: {}",
                    crate::jsonrpc::quote(&cursor)
                )));
            }
            Err(err) => return Err(ErrorObject::internal(err)),
        };
        let data: Vec<Thread> = page
            .threads
            .iter()
            .map(|record| self.stored_view(record, Vec::new()))
            .collect();
        to_value(&ThreadListResponse {
            data,
            read_states: Default::default(),
            next_cursor: page.next_cursor,
            backwards_cursor: page.backwards_cursor,
        })
    }

    /// The protocol view of a stored thread, live if it is loaded here.
    fn stored_view(&self, record: &ThreadRecord, turns: Vec<Turn>) -> Thread {
        match self.loaded.get(&record.id) {
            Some(loaded) => super::convert::thread(
                record,
                &self.state_dir,
                super::convert::Loaded::Yes(&loaded.status, loaded.ephemeral),
                turns,
            ),
            None => {
                super::convert::thread(record, &self.state_dir, super::convert::Loaded::No, turns)
            }
        }
    }

    fn thread_read(&mut self, p: ThreadReadParams) -> Reply {
        let uuid = thread_id(&p.thread_id)?;
        self.refresh(uuid);
        let include_turns = p.include_turns.unwrap_or(false);
        if let Some(loaded) = self.loaded.get(&uuid) {
            if include_turns && loaded.ephemeral == Ephemeral::Yes {
                return Err(ErrorObject::request_failed(
                    "ephemeral threads do not support includeTurns",
                ));
            }
            let turns = if include_turns {
                self.turns_of(&uuid)
            } else {
                Vec::new()
            };
            let thread = self.loaded_view(&uuid, turns);
            return to_value(&ThreadReadResponse {
                thread: thread.ok_or_else(|| ErrorObject::internal("thread vanished"))?,
                read_state: None,
            });
        }
        match self.store.read_thread(uuid) {
            Ok(Some(record)) => {
                let turns = if include_turns {
                    self.turns_of(&uuid)
                } else {
                    Vec::new()
                };
                to_value(&ThreadReadResponse {
                    thread: self.stored_view(&record, turns),
                    read_state: None,
                })
            }
            Ok(None) => Err(ErrorObject::request_failed(format!(
                "thread not loaded: {}",
                p.thread_id
            ))),
            Err(err) => Err(ErrorObject::internal(err)),
        }
    }

    fn thread_loaded_list(&self, p: ThreadLoadedListParams) -> Reply {
        let start = match &p.cursor {
            None => 0,
            Some(cursor) => {
                let uuid = thread_id(cursor).map_err(|_| {
                    ErrorObject::request_failed(format!(
                        "invalid cursor: {}",
                        crate::jsonrpc::quote(cursor)
                    ))
                })?;
                match self.load_order.iter().position(|u| *u == uuid) {
                    Some(at) => at + 1,
                    None => {
                        return Err(ErrorObject::request_failed(format!(
                            "invalid cursor: {cursor}"
                        )));
                    }
                }
            }
        };
        let rest = &self.load_order[start.min(self.load_order.len())..];
        let limit = p.limit.map(|l| l.max(1) as usize).unwrap_or(rest.len());
        let page: Vec<String> = rest.iter().take(limit).map(Uuid::to_string).collect();
        let next_cursor = if p.limit.is_some() && rest.len() > page.len() {
            page.last().cloned()
        } else {
            None
        };
        to_value(&ThreadLoadedListResponse {
            data: page,
            next_cursor,
        })
    }

    fn thread_unsubscribe(&mut self, p: ThreadUnsubscribeParams) -> Reply {
        let uuid = thread_id(&p.thread_id)?;
        let status = match self.loaded.get_mut(&uuid) {
            None => ThreadUnsubscribeStatus::NotLoaded,
            Some(loaded) => match loaded.subscription {
                Subscription::Subscribed => {
                    loaded.subscription = Subscription::Unsubscribed;
                    ThreadUnsubscribeStatus::Unsubscribed
                }
                Subscription::Unsubscribed => ThreadUnsubscribeStatus::NotSubscribed,
            },
        };
        to_value(&ThreadUnsubscribeResponse { status })
    }

    async fn thread_name_set(&mut self, id: &RequestId, p: ThreadNameSetParams) -> Option<Reply> {
        let uuid = match thread_id(&p.thread_id) {
            Ok(uuid) => uuid,
            Err(err) => return Some(Err(err)),
        };
        if p.name.trim().is_empty() {
            return Some(Err(ErrorObject::request_failed(
                "thread name must not be empty",
            )));
        }
        if let Some(loaded) = self.loaded.get(&uuid)
            && loaded.ephemeral == Ephemeral::Yes
        {
            return Some(Err(ErrorObject::request_failed(format!(
                "ephemeral thread does not support metadata updates: {}",
                p.thread_id
            ))));
        }
        let name = p.name.clone();
        let updated = self.store.update_thread(uuid, |record| {
            record.name = Some(name.clone());
        });
        match updated {
            Ok(record) => {
                if let Some(loaded) = self.loaded.get_mut(&uuid) {
                    loaded.record = record;
                }
            }
            Err(StoreError::NotFound(_)) => return Some(Err(no_rollout(&p.thread_id))),
            Err(err) => return Some(Err(ErrorObject::internal(err))),
        }
        self.respond_now(id, Ok(json!({}))).await;
        self.notify(ServerNotification::ThreadNameUpdated(
            ThreadNameUpdatedNotification {
                thread_id: p.thread_id,
                thread_name: Some(p.name),
            },
        ))
        .await;
        None
    }

    async fn thread_archive(&mut self, id: &RequestId, p: ThreadArchiveParams) -> Option<Reply> {
        let uuid = match thread_id(&p.thread_id) {
            Ok(uuid) => uuid,
            Err(err) => return Some(Err(err)),
        };
        if let Some(loaded) = self.loaded.get(&uuid)
            && loaded.ephemeral == Ephemeral::Yes
        {
            return Some(Err(no_rollout(&p.thread_id)));
        }
        match self.store.read_thread(uuid) {
            Ok(Some(record)) if !record.archived => {}
            Ok(_) => return Some(Err(no_rollout(&p.thread_id))),
            Err(err) => return Some(Err(ErrorObject::internal(err))),
        }
        // Archiving stops what is still running first (promise 9): the turn ends
        // `interrupted` before the thread is unloaded.
        self.stop_active_turn(uuid).await;
        match self.store.set_archived(uuid, ArchiveState::Archived) {
            Ok(_) => {}
            Err(StoreError::NotFound(_) | StoreError::AlreadyArchived(_)) => {
                return Some(Err(no_rollout(&p.thread_id)));
            }
            Err(err) => return Some(Err(ErrorObject::internal(err))),
        }
        if self.loaded.contains_key(&uuid) {
            self.unload(&uuid);
            self.notify(ServerNotification::ThreadStatusChanged(
                ThreadStatusChangedNotification {
                    thread_id: p.thread_id.clone(),
                    status: ThreadStatus::NotLoaded,
                },
            ))
            .await;
        }
        self.respond_now(id, Ok(json!({}))).await;
        self.notify(ServerNotification::ThreadArchived(
            ThreadArchivedNotification {
                thread_id: p.thread_id,
            },
        ))
        .await;
        None
    }

    async fn thread_unarchive(
        &mut self,
        id: &RequestId,
        p: ThreadUnarchiveParams,
    ) -> Option<Reply> {
        let uuid = match thread_id(&p.thread_id) {
            Ok(uuid) => uuid,
            Err(err) => return Some(Err(err)),
        };
        let not_archived = || {
            ErrorObject::request_failed(format!(
                "no archived rollout found for thread id {}",
                p.thread_id
            ))
        };
        let record = match self.store.set_archived(uuid, ArchiveState::Active) {
            Ok(record) => record,
            Err(StoreError::NotFound(_) | StoreError::NotArchived(_)) => {
                return Some(Err(not_archived()));
            }
            Err(err) => return Some(Err(ErrorObject::internal(err))),
        };
        let thread = self.stored_view(&record, Vec::new());
        self.respond_now(id, to_value(&ThreadUnarchiveResponse { thread }))
            .await;
        self.notify(ServerNotification::ThreadUnarchived(
            ThreadUnarchivedNotification {
                thread_id: p.thread_id,
            },
        ))
        .await;
        None
    }
}
