//! Approvals: a backend's permission request becomes a server-to-client request, and the
//! client's answer goes back to the turn's runner.
//!
//! Server-to-client request ids are integers counting up from 0 per connection, as in Codex.
//! The answer is sent to the runner, then `serverRequest/resolved` and the status change
//! follow. `cancel` also interrupts the turn; an error reply or an unreadable decision is a
//! `decline` for the backend. Requests still pending when their turn ends are resolved then.

use std::path::PathBuf;

use serde_json::{Value, json};
use uuid::Uuid;

use super::state::{LoadedStatus, Server, now_ms};
use crate::events::ApprovalKind;
use crate::jsonrpc::{ErrorObject, Outgoing, RequestId};
use crate::protocol::*;
use crate::runner;

/// A server-to-client request waiting for the client's answer.
#[derive(Debug)]
pub(crate) struct PendingApproval {
    pub thread: Uuid,
    pub turn: Uuid,
    pub dir: PathBuf,
    /// The runner's own id of the request.
    pub runner_request_id: String,
    pub kind: ApprovalKind,
}

/// What the backend hears.
enum Verdict {
    Decision(Value),
    /// Decline, and interrupt the turn.
    Cancel,
}

impl Server {
    /// The backend asks for permission: ask the client.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn request_approval(
        &mut self,
        thread: Uuid,
        turn: Uuid,
        dir: PathBuf,
        runner_request_id: String,
        kind: ApprovalKind,
        item_id: String,
        reason: Option<String>,
        command: Option<String>,
        cwd: Option<String>,
    ) {
        let id = self.next_server_request_id;
        self.next_server_request_id += 1;
        if let Some(loaded) = self.loaded.get_mut(&thread) {
            loaded.status = LoadedStatus::Active {
                waiting_on_approval: true,
            };
        }
        self.pending_approvals.insert(
            id,
            PendingApproval {
                thread,
                turn,
                dir,
                runner_request_id,
                kind,
            },
        );
        self.notify_status(thread).await;
        let request = match kind {
            ApprovalKind::CommandExecution => ServerRequest::CommandExecutionRequestApproval(
                CommandExecutionRequestApprovalParams {
                    kind: CommandApprovalKind::Command,
                    thread_id: thread.to_string(),
                    turn_id: turn.to_string(),
                    item_id,
                    started_at_ms: now_ms(),
                    approval_id: None,
                    environment_id: Some("local".to_owned()),
                    reason,
                    network_approval_context: None,
                    command,
                    cwd,
                    command_actions: None,
                    proposed_execpolicy_amendment: None,
                    proposed_network_policy_amendments: None,
                    available_decisions: Some(vec![
                        CommandExecutionApprovalDecision::Accept,
                        CommandExecutionApprovalDecision::Decline,
                        CommandExecutionApprovalDecision::Cancel,
                    ]),
                },
            ),
            ApprovalKind::FileChange => {
                ServerRequest::FileChangeRequestApproval(FileChangeRequestApprovalParams {
                    thread_id: thread.to_string(),
                    turn_id: turn.to_string(),
                    item_id,
                    started_at_ms: now_ms(),
                    reason,
                    grant_root: None,
                })
            }
        };
        let params = match request.params_value() {
            Ok(params) => params,
            Err(err) => {
                tracing::error!("cannot serialize {}: {err}", request.method());
                return;
            }
        };
        self.send(Outgoing::Request {
            method: request.method(),
            id: RequestId::Int(id),
            params,
        })
        .await;
    }

    /// The client answered one of our requests.
    pub(crate) async fn on_client_response(
        &mut self,
        id: RequestId,
        result: Result<Value, ErrorObject>,
    ) {
        let RequestId::Int(number) = id else {
            tracing::debug!("response {id} to no server request; ignored");
            return;
        };
        let Some(pending) = self.pending_approvals.remove(&number) else {
            tracing::debug!("response {number} to no pending server request; ignored");
            return;
        };
        let verdict = verdict(pending.kind, result);
        let decision = match &verdict {
            Verdict::Decision(decision) => decision.clone(),
            Verdict::Cancel => json!("decline"),
        };
        // The runner is told beside the loop, which goes on serving every client; the
        // resolution is announced now, before any record the answer leads to is followed.
        let cancel = matches!(verdict, Verdict::Cancel);
        let (dir, runner_request_id) = (pending.dir.clone(), pending.runner_request_id.clone());
        let turn = pending.turn;
        tokio::spawn(async move {
            let approve = runner::control::ControlRequest::Approve {
                request_id: runner_request_id,
                decision,
            };
            if let Err(err) = crate::launcher::request(&dir, &approve).await {
                tracing::warn!("cannot pass the approval to the runner: {err}");
            }
            if cancel {
                super::turn::interrupt_or_kill(dir, turn).await;
            }
        });
        self.resolve(number, pending.thread).await;
    }

    /// Sends `serverRequest/resolved` and the thread's status without the approval flag.
    async fn resolve(&mut self, number: i64, thread: Uuid) {
        self.notify_thread(
            thread,
            ServerNotification::ServerRequestResolved(ServerRequestResolvedNotification {
                thread_id: thread.to_string(),
                request_id: number,
            }),
        )
        .await;
        let still_waiting = self.pending_approvals.values().any(|p| p.thread == thread);
        if let Some(loaded) = self.loaded.get_mut(&thread)
            && loaded.active.is_some()
        {
            loaded.status = LoadedStatus::Active {
                waiting_on_approval: still_waiting,
            };
            self.notify_status(thread).await;
        }
    }

    /// Resolves our request for the runner's request `runner_request_id`, if it is still
    /// waiting for the client (the runner decided it by policy).
    pub(crate) async fn resolve_by_runner(
        &mut self,
        thread: Uuid,
        turn: Uuid,
        runner_request_id: &str,
    ) {
        let found = self
            .pending_approvals
            .iter()
            .find(|(_, p)| {
                p.thread == thread && p.turn == turn && p.runner_request_id == runner_request_id
            })
            .map(|(id, _)| *id);
        if let Some(number) = found {
            self.pending_approvals.remove(&number);
            self.resolve(number, thread).await;
        }
    }

    /// Resolves every request of a turn that has ended.
    pub(crate) async fn resolve_turn_requests(&mut self, thread: Uuid, turn: Uuid) {
        let ids: Vec<i64> = self
            .pending_approvals
            .iter()
            .filter(|(_, p)| p.thread == thread && p.turn == turn)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.pending_approvals.remove(&id);
            self.notify_thread(
                thread,
                ServerNotification::ServerRequestResolved(ServerRequestResolvedNotification {
                    thread_id: thread.to_string(),
                    request_id: id,
                }),
            )
            .await;
        }
    }

    /// Sends the loaded thread's current status.
    pub(crate) async fn notify_status(&self, thread: Uuid) {
        let Some(loaded) = self.loaded.get(&thread) else {
            return;
        };
        let status = super::convert::status(&loaded.status);
        self.notify_thread(
            thread,
            ServerNotification::ThreadStatusChanged(ThreadStatusChangedNotification {
                thread_id: thread.to_string(),
                status,
            }),
        )
        .await;
    }
}

/// Reads the client's answer: the decision as the backend hears it.
fn verdict(kind: ApprovalKind, result: Result<Value, ErrorObject>) -> Verdict {
    let Ok(result) = result else {
        return Verdict::Decision(json!("decline"));
    };
    let decision = result.get("decision").cloned().unwrap_or(Value::Null);
    let cancel = match kind {
        ApprovalKind::CommandExecution => {
            match serde_json::from_value::<CommandExecutionApprovalDecision>(decision.clone()) {
                Ok(CommandExecutionApprovalDecision::Cancel) => true,
                Ok(_) => false,
                Err(_) => return Verdict::Decision(json!("decline")),
            }
        }
        ApprovalKind::FileChange => {
            match serde_json::from_value::<FileChangeApprovalDecision>(decision.clone()) {
                Ok(FileChangeApprovalDecision::Cancel) => true,
                Ok(_) => false,
                Err(_) => return Verdict::Decision(json!("decline")),
            }
        }
    };
    if cancel {
        Verdict::Cancel
    } else {
        Verdict::Decision(decision)
    }
}
