//! `review/start`: a code review run as a turn.
//!
//! The target becomes a prompt (`prompt.rs`, from the template `prompt.md`) with the diff
//! git gives for it (`git.rs`), and the prompt runs as a turn of the thread's provider
//! through the `turn/start` pipeline, so the review has every guarantee of a turn (one
//! `turn/completed`, interrupts, background). `inline` runs it on the thread itself,
//! `detached` on a new thread announced with `thread/started`. The turn's record keeps what
//! makes it a review ([`ReviewRecord`]): its `enteredReviewMode` item opens it and its
//! `exitedReviewMode` item, carrying the review's text, closes it, on the wire and in
//! `thread/read`.

mod git;
mod prompt;

use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use self::git::{Git, GitError};
use self::prompt::Subject;
use super::state::{Reply, Server, to_value};
use super::threads::thread_id;
use crate::jsonrpc::{ErrorObject, RequestId, quote};
use crate::protocol::*;
use crate::store::{self, ThreadRecord, Timestamp};

/// What makes a turn a review, kept in its `turn.json`: what is reviewed, and the ids of
/// the items that open and close it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReviewRecord {
    /// What is reviewed, in a few words: the text of `enteredReviewMode`.
    pub hint: String,
    pub entered_item_id: String,
    pub exited_item_id: String,
}

/// The text of `exitedReviewMode` when the review gave none (interrupted, failed, or ended
/// without a message).
const NO_REVIEW: &str = "The review ended without a result.";

/// A review ready to run: its prompt and what is reviewed, in words.
#[derive(Debug)]
struct Prepared {
    prompt: String,
    hint: String,
}

impl Server {
    /// `review/start`: checks the request, reads the target from git, then starts the
    /// review's turn on the thread or on a new detached one.
    pub(crate) async fn review_start(
        &mut self,
        id: &RequestId,
        p: ReviewStartParams,
    ) -> Option<Reply> {
        let target = match checked_target(p.target) {
            Ok(target) => target,
            Err(err) => return Some(Err(err)),
        };
        let (parent, cwd) = match self.reviewed_thread(&p.thread_id) {
            Ok(found) => found,
            Err(err) => return Some(Err(err)),
        };
        let prepared = tokio::task::spawn_blocking(move || prepare(&target, &cwd)).await;
        let prepared = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(err)) => return Some(Err(git_error(err))),
            Err(err) => return Some(Err(ErrorObject::internal(err))),
        };
        let review_thread = match p.delivery.unwrap_or(ReviewDelivery::Inline) {
            ReviewDelivery::Inline => p.thread_id,
            ReviewDelivery::Detached => match self.start_review_thread(parent).await {
                Ok(thread) => thread.to_string(),
                Err(err) => return Some(Err(err)),
            },
        };
        let record = ReviewRecord {
            hint: prepared.hint,
            entered_item_id: store::new_id().to_string(),
            exited_item_id: store::new_id().to_string(),
        };
        let params = turn_params(review_thread, prepared.prompt, p.background);
        self.start_turn(id, params, Some(record)).await
    }

    /// The loaded thread a review is asked of, and its working directory; Codex's errors
    /// for a thread that is not loaded, ours for one whose turn is running.
    fn reviewed_thread(&mut self, raw_id: &str) -> Result<(Uuid, String), ErrorObject> {
        let uuid = thread_id(raw_id)?;
        self.refresh(uuid);
        let loaded = self
            .loaded
            .get(&uuid)
            .ok_or_else(|| ErrorObject::request_failed(format!("thread not found: {raw_id}")))?;
        if let Some(active) = &loaded.active {
            return Err(ErrorObject::request_failed(format!(
                "a turn is already active on this thread: {}; wait for its end or use turn/interrupt",
                active.turn_id
            )));
        }
        Ok((uuid, loaded.record.cwd.clone()))
    }

    /// A new thread for a detached review, with the settings of `parent` (provider, model,
    /// cwd, policies), forked from it without its turns; announced with `thread/started`.
    async fn start_review_thread(&mut self, parent: Uuid) -> Result<Uuid, ErrorObject> {
        let Some(loaded) = self.loaded.get(&parent) else {
            return Err(ErrorObject::request_failed(format!(
                "thread not found: {parent}"
            )));
        };
        let ephemeral = loaded.ephemeral;
        let record = review_thread_record(&loaded.record, self.originator());
        let uuid = self.store_and_load(record, ephemeral)?;
        if let Some(thread) = self.loaded_view(&uuid, Vec::new()) {
            self.notify(ServerNotification::ThreadStarted(
                ThreadStartedNotification { thread },
            ))
            .await;
        }
        Ok(uuid)
    }

    /// Whether the running turn of the thread `raw_id` is a review.
    pub(crate) fn is_review_running(&self, raw_id: &str) -> bool {
        thread_id(raw_id)
            .ok()
            .and_then(|uuid| self.loaded.get(&uuid))
            .and_then(|loaded| loaded.active.as_ref())
            .is_some_and(|active| active.review.is_some())
    }

    /// Before a review's turn ends: its `exitedReviewMode` item, carrying the review's text
    /// (the turn's last agent message), or [`NO_REVIEW`] when it has none. `ended`: how the
    /// turn ended and its directory, whose exit record dates the item (as `thread/read`
    /// shows it again).
    pub(crate) async fn exit_review_mode(
        &self,
        thread: Uuid,
        turn: Uuid,
        review: &ReviewRecord,
        result: Option<&ThreadItem>,
        ended: (TurnStatus, &Path),
    ) {
        let (status, dir) = ended;
        let at_ms = match crate::runner::client::read_exit_record(dir) {
            Ok(Some(exit)) => exit.ended_at_ms as i64,
            Ok(None) | Err(_) => super::state::now_ms(),
        };
        let item = exited_item(review, status, result, at_ms);
        let (thread_id, turn_id) = (thread.to_string(), turn.to_string());
        for notification in [
            super::turn::item_started(thread_id.clone(), turn_id.clone(), item.clone(), at_ms),
            super::turn::item_completed(thread_id, turn_id, item, at_ms),
        ] {
            self.notify_thread(thread, notification).await;
        }
    }
}

/// The target with Codex's checks: a branch, sha or instructions must not be blank (they
/// are trimmed; a blank title is no title).
fn checked_target(target: ReviewTarget) -> Result<ReviewTarget, ErrorObject> {
    let not_empty = |value: String, what: &str| {
        let value = value.trim().to_owned();
        if value.is_empty() {
            Err(ErrorObject::request_failed(format!(
                "{what} must not be empty"
            )))
        } else {
            Ok(value)
        }
    };
    Ok(match target {
        ReviewTarget::UncommittedChanges => ReviewTarget::UncommittedChanges,
        ReviewTarget::BaseBranch { branch } => ReviewTarget::BaseBranch {
            branch: not_empty(branch, "branch")?,
        },
        ReviewTarget::Commit { sha, title } => ReviewTarget::Commit {
            sha: not_empty(sha, "sha")?,
            title: title
                .map(|title| title.trim().to_owned())
                .filter(|title| !title.is_empty()),
        },
        ReviewTarget::Custom { instructions } => ReviewTarget::Custom {
            instructions: not_empty(instructions, "instructions")?,
        },
    })
}

/// Reads the target from git in `cwd` and writes the prompt (blocking: runs git).
fn prepare(target: &ReviewTarget, cwd: &str) -> Result<Prepared, GitError> {
    match target {
        ReviewTarget::UncommittedChanges => {
            let git = Git::open(cwd)?;
            let root = git.root();
            let material = git.uncommitted()?;
            Ok(Prepared {
                prompt: prompt::render(Subject::Uncommitted { root: &root }, Some(&material)),
                hint: "uncommitted changes".to_owned(),
            })
        }
        ReviewTarget::BaseBranch { branch } => {
            let (base, material) = Git::open(cwd)?.against_branch(branch)?;
            let subject = Subject::BaseBranch {
                base: &base.base,
                merge_base: &base.merge_base,
            };
            Ok(Prepared {
                prompt: prompt::render(subject, Some(&material)),
                hint: format!("changes against {branch}"),
            })
        }
        ReviewTarget::Commit { sha, title } => {
            let git = Git::open(cwd)?;
            let root = git.root();
            let (commit, material) = git.commit(sha)?;
            let title = title
                .as_deref()
                .or((!commit.subject.is_empty()).then_some(commit.subject.as_str()));
            let short = git::short(&commit.sha);
            let subject = Subject::Commit {
                root: &root,
                sha: &commit.sha,
                title,
            };
            Ok(Prepared {
                prompt: prompt::render(subject, Some(&material)),
                hint: match title {
                    Some(title) => format!("commit {short}: {title}"),
                    None => format!("commit {short}"),
                },
            })
        }
        ReviewTarget::Custom { instructions } => Ok(Prepared {
            prompt: prompt::render(Subject::Custom { instructions }, None),
            hint: instructions.clone(),
        }),
    }
}

/// The wire error of a target git cannot give: the client's doing is `-32600` (the code of
/// Codex's own review errors), git failing otherwise is internal.
fn git_error(err: GitError) -> ErrorObject {
    match err {
        // Git's own words only when they say more (a repository git refuses to read).
        GitError::NotARepository { cwd, detail } if detail.contains("not a git repository") => {
            ErrorObject::request_failed(format!("not a git repository: {cwd}"))
        }
        GitError::NotARepository { cwd, detail } => {
            ErrorObject::request_failed(format!("not a git repository: {cwd} ({detail})"))
        }
        GitError::CommitNotFound(sha) => {
            ErrorObject::request_failed(format!("commit not found: {}", quote(&sha)))
        }
        GitError::BranchNotFound(branch) => {
            ErrorObject::request_failed(format!("branch not found: {}", quote(&branch)))
        }
        GitError::NoMergeBase(branch) => ErrorObject::request_failed(format!(
            "no merge base between HEAD and {}",
            quote(&branch)
        )),
        GitError::NothingToReview(what) => {
            ErrorObject::request_failed(format!("nothing to review: {what}"))
        }
        GitError::Failed(message) => ErrorObject::internal(message),
    }
}

/// The turn that runs a review: the prompt as its one input.
fn turn_params(thread_id: String, prompt: String, background: Option<bool>) -> TurnStartParams {
    TurnStartParams {
        background,
        ..TurnStartParams::text(thread_id, prompt)
    }
}

/// A detached review's thread: `parent`'s settings as a new thread forked from it.
fn review_thread_record(parent: &ThreadRecord, originator: Option<String>) -> ThreadRecord {
    let now = Timestamp::now();
    let mut record = parent.clone();
    record.id = store::new_id();
    record.forked_from_id = Some(parent.id);
    record.name = None;
    record.preview = String::new();
    record.archived = false;
    record.has_turns = false;
    record.backend_session_id = None;
    record.created_at = now.unix_seconds();
    record.touch(now);
    record.originator = originator;
    record
}

/// The `review/start` result, as Codex gives it: the running turn holding what is reviewed
/// as a user message (with the turn's id), and the thread the review runs on.
pub(crate) fn start_response(turn: Uuid, review_thread_id: &str, review: &ReviewRecord) -> Reply {
    let request = ThreadItem {
        kind: ThreadItemKind::UserMessage {
            id: turn.to_string(),
            client_id: None,
            content: vec![UserInput::Text {
                text: review.hint.clone(),
                text_elements: Vec::new(),
            }],
        },
        started_at_ms: None,
        completed_at_ms: None,
    };
    let turn = Turn {
        root_turn_id: None,
        items: vec![request],
        ..super::turn::running_turn(turn)
    };
    to_value(&ReviewStartResponse {
        turn,
        review_thread_id: review_thread_id.to_owned(),
    })
}

/// The `enteredReviewMode` item of a review that started at `at_ms`.
pub(crate) fn entered_item(review: &ReviewRecord, at_ms: i64) -> ThreadItem {
    ThreadItem {
        kind: ThreadItemKind::EnteredReviewMode {
            id: review.entered_item_id.clone(),
            review: review.hint.clone(),
        },
        started_at_ms: Some(at_ms),
        completed_at_ms: Some(at_ms),
    }
}

/// The `exitedReviewMode` item of a review that ended with `status` at `at_ms`: the text of
/// `result` (the turn's last agent message) when it completed, else [`NO_REVIEW`].
pub(crate) fn exited_item(
    review: &ReviewRecord,
    status: TurnStatus,
    result: Option<&ThreadItem>,
    at_ms: i64,
) -> ThreadItem {
    let text = match (status, result.map(|item| &item.kind)) {
        (TurnStatus::Completed, Some(ThreadItemKind::AgentMessage { text, .. }))
            if !text.trim().is_empty() =>
        {
            text.clone()
        }
        _ => NO_REVIEW.to_owned(),
    };
    ThreadItem {
        kind: ThreadItemKind::ExitedReviewMode {
            id: review.exited_item_id.clone(),
            review: text,
        },
        started_at_ms: Some(at_ms),
        completed_at_ms: Some(at_ms),
    }
}

/// Codex's refusal of more input for a running review (reviews cannot be steered), with
/// the turn error Codex gives as its data.
pub(crate) fn not_steerable() -> ErrorObject {
    let message = "cannot steer a review turn";
    let error = TurnError {
        message: message.to_owned(),
        codex_error_info: Some(CodexErrorInfo::ActiveTurnNotSteerable {
            turn_kind: "review".to_owned(),
        }),
        additional_details: None,
        misalignment: None,
    };
    match serde_json::to_value(error) {
        Ok(data) => ErrorObject::request_failed_with_data(message, data),
        Err(_) => ErrorObject::request_failed(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ReviewRecord {
        ReviewRecord {
            hint: "uncommitted changes".into(),
            entered_item_id: "e".into(),
            exited_item_id: "x".into(),
        }
    }

    fn message(text: &str) -> ThreadItem {
        serde_json::from_value(serde_json::json!({
            "type": "agentMessage", "id": "m", "text": text, "moderation": null,
            "phase": null, "memoryCitation": null, "delivery": null, "questions": null,
            "startedAtMs": 1, "completedAtMs": 2}))
        .unwrap()
    }

    fn review_text(item: &ThreadItem) -> &str {
        match &item.kind {
            ThreadItemKind::ExitedReviewMode { review, .. } => review,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_completed_review_carries_its_last_message_and_any_other_end_says_there_is_none() {
        let done = message("Two findings.");
        let exited = exited_item(&record(), TurnStatus::Completed, Some(&done), 5);
        assert_eq!(review_text(&exited), "Two findings.");
        assert_eq!(exited.id(), "x");
        for (status, result) in [
            (TurnStatus::Interrupted, Some(&done)),
            (TurnStatus::Failed, None),
            (TurnStatus::Completed, None),
        ] {
            let exited = exited_item(&record(), status, result, 5);
            assert_eq!(review_text(&exited), NO_REVIEW, "{status:?}");
        }
    }

    #[test]
    fn blank_fields_get_codex_errors_and_a_blank_title_is_none() {
        let blank = |target: ReviewTarget| checked_target(target).unwrap_err().message;
        assert_eq!(
            blank(ReviewTarget::Custom {
                instructions: "  ".into()
            }),
            "instructions must not be empty"
        );
        assert_eq!(
            blank(ReviewTarget::Commit {
                sha: " ".into(),
                title: None
            }),
            "sha must not be empty"
        );
        assert_eq!(
            blank(ReviewTarget::BaseBranch { branch: "".into() }),
            "branch must not be empty"
        );
        let commit = checked_target(ReviewTarget::Commit {
            sha: " abc ".into(),
            title: Some(" ".into()),
        });
        assert_eq!(
            commit.unwrap(),
            ReviewTarget::Commit {
                sha: "abc".into(),
                title: None
            }
        );
    }
}
