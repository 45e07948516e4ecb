//! Interrupting and steering a running turn, and stopping one that must end.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::super::state::{Reply, Server, now_ms, to_value};
use super::super::threads::thread_id;
use super::input::*;
use super::translate::Ended;
use super::*;
use crate::events::{self, InterruptReason};
use crate::jsonrpc::ErrorObject;
use crate::protocol::*;
use crate::store::{self};
use crate::{runner, spec};

/// Asks the turn's runner to interrupt it (reason `client`); a runner that does not take the
/// request (hung, stopped, or gone) is killed directly with the turn's processes, and its
/// follower then reads the exit record and ends the turn, once.
pub(crate) async fn interrupt_or_kill(dir: PathBuf, turn: Uuid) {
    let request = runner::control::ControlRequest::Interrupt {
        reason: InterruptReason::Client,
    };
    let Err(err) = crate::launcher::request(&dir, &request).await else {
        return;
    };
    tracing::warn!(
        "turn {turn}: the runner did not take the interrupt ({err}); killing it directly"
    );
    match tokio::task::spawn_blocking(move || crate::turn_control::stop_unresponsive(&dir)).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => tracing::warn!("turn {turn}: direct kill failed: {err}"),
        Err(err) => tracing::warn!("turn {turn}: direct kill failed: {err}"),
    }
}

/// Whether the turn's backend reads user messages mid-turn (its spec says so).
pub(super) fn streams_input(dir: &Path) -> bool {
    spec::read(dir).is_ok_and(|spec| crate::backend::takes_steered_messages(&spec.provider))
}

/// Passes `input` to the running turn's backend as one more user message. The runner writes
/// it and records `steered` before it answers; the record's userMessage item follows the
/// response to the request that asked.
pub(super) async fn steer_running(
    dir: &Path,
    turn: Uuid,
    input: &[UserInput],
    client_user_message_id: Option<String>,
) -> Result<(), ErrorObject> {
    // Stream-json input is Claude's, which has no image flag: images are prompt lines.
    let steer = runner::control::ControlRequest::Steer {
        input: serde_json::to_value(input).map_err(ErrorObject::internal)?,
        prompt: prompt_text(input, ImageDelivery::PromptLines),
        user_message_id: store::new_id().to_string(),
        client_user_message_id,
    };
    crate::launcher::request(dir, &steer)
        .await
        .map_err(|err| ErrorObject::request_failed(format!("cannot steer turn {turn}: {err}")))
}

/// `turn/start` while a turn runs whose backend reads input mid-turn: the input joins that
/// turn as a steer, and the answer is the running turn, like Codex.
pub(super) async fn join_running_turn(dir: &Path, turn: Uuid, p: &TurnStartParams) -> Reply {
    steer_running(dir, turn, &p.input, p.client_user_message_id.clone()).await?;
    to_value(&TurnStartResponse {
        turn: running_turn(turn),
    })
}

/// The request names the running turn, or fails with `message(expected, found)`.
fn expect_turn(
    active: Uuid,
    expected: &str,
    message: impl FnOnce(&str, &Uuid) -> String,
) -> Result<(), ErrorObject> {
    if active.to_string() == expected {
        Ok(())
    } else {
        Err(ErrorObject::request_failed(message(expected, &active)))
    }
}

impl Server {
    pub(crate) async fn turn_interrupt(&mut self, p: TurnInterruptParams) -> Reply {
        let (dir, active_id) = self.active_turn(&p.thread_id, "interrupt")?;
        // Codex's words, which quote the ids for a steer only.
        expect_turn(active_id, &p.turn_id, |expected, found| {
            format!("expected active turn id {expected} but found {found}")
        })?;
        // The answer does not wait for the runner (the loop serves every client): `{}` now,
        // `turn/completed` when the turn has ended. A runner that does not take the request
        // (hung, stopped, or gone) is killed directly with the turn's processes; the
        // follower then reads the exit record and ends the turn, once.
        tokio::spawn(interrupt_or_kill(dir, active_id));
        to_value(&TurnInterruptResponse {})
    }

    pub(crate) async fn turn_steer(&mut self, p: TurnSteerParams) -> Reply {
        let (dir, active_id) = self.active_turn(&p.thread_id, "steer")?;
        expect_turn(active_id, &p.expected_turn_id, |expected, found| {
            format!("expected active turn id `{expected}` but found `{found}`")
        })?;
        if self.is_review_running(&p.thread_id) {
            return Err(super::super::review::not_steerable());
        }
        check_input_size(&p.input)?;
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
    pub(super) fn active_turn(
        &self,
        raw_thread_id: &str,
        verb: &str,
    ) -> Result<(PathBuf, Uuid), ErrorObject> {
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

    /// Stops the thread's running turn, if any, and waits (bounded) until it has ended.
    pub(crate) async fn stop_active_turn(&mut self, thread: Uuid) {
        let Some(active) = self.loaded.get(&thread).and_then(|l| l.active.as_ref()) else {
            return;
        };
        let (turn, dir) = (active.turn_id, active.dir.clone());
        let stopped =
            tokio::task::spawn_blocking(move || crate::turn_control::stop(&dir, RECOVERY_TIMEOUT))
                .await;
        let ended = match stopped {
            Ok(Ok(Some(exit))) => Ended::recorded(exit),
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => Ended {
                status: events::TurnStatus::Interrupted,
                reason: events::EndReason::Interrupted(events::InterruptReason::Kill),
                error: None,
                at_ms: now_ms(),
            },
        };
        self.finish_turn(thread, turn, ended).await;
    }
}
