//! The goal of a thread: `thread/goal/set`, `thread/goal/get`, `thread/goal/clear`, kept in
//! the thread's record, and how it is honoured.
//!
//! As in Codex 0.169.0: a stored thread has at most one goal; setting another objective (or
//! any objective over a completed goal) starts a new one, the same objective updates the
//! status and budget of the one there is. Every turn that ends while the goal is active
//! counts its tokens and time toward it (`thread/goal/updated` with the turn's id, before the
//! turn's `turn/completed`), and the goal becomes `budgetLimited` when its budget is used up.
//! Codex gives the model the active goal's objective as context of its turns; our backends
//! get it in the prompt of every turn of the thread while the goal is active
//! ([`prompt_context`], used by the turn plan). Codex also starts turns of its own to pursue
//! an active goal; agent-host does not (`docs/compatibility.md`).

use std::path::Path;

use uuid::Uuid;

use super::state::{Ephemeral, Reply, Server, now_ms, to_value};
use super::threads::thread_id;
use crate::jsonrpc::{ErrorObject, RequestId};
use crate::protocol::*;
use crate::store::{self, GoalStatus, StoreError, ThreadRecord, Timestamp};

/// The protocol's view of a stored goal of `thread`.
fn to_protocol(thread: Uuid, goal: &store::ThreadGoal) -> ThreadGoal {
    ThreadGoal {
        thread_id: thread.to_string(),
        objective: goal.objective.clone(),
        status: match goal.status {
            GoalStatus::Active => ThreadGoalStatus::Active,
            GoalStatus::Paused => ThreadGoalStatus::Paused,
            GoalStatus::Blocked => ThreadGoalStatus::Blocked,
            GoalStatus::UsageLimited => ThreadGoalStatus::UsageLimited,
            GoalStatus::BudgetLimited => ThreadGoalStatus::BudgetLimited,
            GoalStatus::Complete => ThreadGoalStatus::Complete,
        },
        token_budget: goal.token_budget,
        tokens_used: goal.tokens_used,
        time_used_seconds: goal.time_used_ms / 1000,
        created_at: goal.created_at,
        updated_at: goal.updated_at,
    }
}

fn from_protocol(status: ThreadGoalStatus) -> GoalStatus {
    match status {
        ThreadGoalStatus::Active => GoalStatus::Active,
        ThreadGoalStatus::Paused => GoalStatus::Paused,
        ThreadGoalStatus::Blocked => GoalStatus::Blocked,
        ThreadGoalStatus::UsageLimited => GoalStatus::UsageLimited,
        ThreadGoalStatus::BudgetLimited => GoalStatus::BudgetLimited,
        ThreadGoalStatus::Complete => GoalStatus::Complete,
    }
}

/// Codex's check of a budget given with `thread/goal/set`.
fn check_budget(budget: Option<i64>) -> Result<(), String> {
    match budget {
        Some(tokens) if tokens <= 0 => Err("goal budgets must be positive when provided".into()),
        Some(_) | None => Ok(()),
    }
}

/// The goal after `thread/goal/set` with `p` on a thread whose goal is `current`, at
/// `now_secs`; the error is Codex's message.
pub(super) fn apply_set(
    thread: Uuid,
    current: Option<&store::ThreadGoal>,
    p: &ThreadGoalSetParams,
    now_secs: i64,
) -> Result<store::ThreadGoal, String> {
    let status = p.status.map(from_protocol);
    let Some(objective) = p.objective.as_deref().map(str::trim) else {
        check_budget(p.token_budget.flatten())?;
        let current = current
            .ok_or_else(|| format!("cannot update goal for thread {thread}: no goal exists"))?;
        return Ok(updated(current, status, p.token_budget, now_secs));
    };
    if objective.is_empty() {
        return Err("goal objective must not be empty".into());
    }
    check_budget(p.token_budget.flatten())?;
    match current {
        Some(goal) if goal.objective == objective && goal.status != GoalStatus::Complete => {
            Ok(updated(goal, status, p.token_budget, now_secs))
        }
        Some(_) | None => Ok(store::ThreadGoal {
            objective: objective.to_owned(),
            status: status.unwrap_or(GoalStatus::Active),
            token_budget: p.token_budget.flatten(),
            tokens_used: 0,
            time_used_ms: 0,
            created_at: now_secs,
            updated_at: now_secs,
            last_counted_turn: None,
        }),
    }
}

/// `goal` with the status and budget given (each kept when not given); its update time
/// moves only when something changed.
fn updated(
    goal: &store::ThreadGoal,
    status: Option<GoalStatus>,
    budget: Option<Option<i64>>,
    now_secs: i64,
) -> store::ThreadGoal {
    let mut next = goal.clone();
    if let Some(status) = status {
        next.status = status;
    }
    if let Some(budget) = budget {
        next.token_budget = budget;
    }
    if next != *goal {
        next.updated_at = now_secs;
    }
    next
}

/// Counts an ended turn toward an active goal: its tokens and wall time; the goal becomes
/// `budgetLimited` once its budget is used. Whether the turn was counted (not when the goal
/// is not active, or the turn was counted already, by another server following it too).
pub(super) fn count_turn(
    goal: &mut store::ThreadGoal,
    turn: Uuid,
    tokens: i64,
    duration_ms: i64,
    now_secs: i64,
) -> bool {
    let counted_already = goal.last_counted_turn.is_some_and(|last| last >= turn);
    if goal.status != GoalStatus::Active || counted_already {
        return false;
    }
    goal.tokens_used = goal.tokens_used.saturating_add(tokens);
    goal.time_used_ms = goal.time_used_ms.saturating_add(duration_ms.max(0));
    goal.last_counted_turn = Some(turn);
    goal.updated_at = now_secs;
    if goal
        .token_budget
        .is_some_and(|budget| goal.tokens_used >= budget)
    {
        goal.status = GoalStatus::BudgetLimited;
    }
    true
}

/// What a turn's backend is told about the thread's goal, appended to its prompt: the
/// objective of an active goal (and the budget left, when it has one); nothing otherwise.
pub(crate) fn prompt_context(goal: Option<&store::ThreadGoal>) -> Option<String> {
    let goal = goal.filter(|goal| goal.status == GoalStatus::Active)?;
    let budget = match goal.token_budget {
        Some(budget) => format!(
            " ({} of its {budget} tokens used)",
            goal.tokens_used.min(budget)
        ),
        None => String::new(),
    };
    Some(format!(
        "[goal of this thread{budget}: {}]\nKeep working toward this goal; it stays until it is reached or changed.",
        goal.objective
    ))
}

/// The tokens one ended turn used: its last thread total less the total it started from.
fn turn_tokens(dir: &Path) -> i64 {
    let Some(report) = super::usage::read_turn_usage(dir).report else {
        return 0;
    };
    let before = crate::spec::read(dir)
        .ok()
        .and_then(|spec| spec.previous_total_usage)
        .map_or(0, |usage| usage.total_tokens);
    i64::try_from(report.total.total_tokens.saturating_sub(before)).unwrap_or(i64::MAX)
}

impl Server {
    /// A stored, unarchived thread that goals may be set on, with Codex's errors.
    fn goal_thread(&self, raw_id: &str) -> Result<(Uuid, ThreadRecord), ErrorObject> {
        let uuid = thread_id(raw_id)?;
        if self
            .loaded
            .get(&uuid)
            .is_some_and(|loaded| loaded.ephemeral == Ephemeral::Yes)
        {
            return Err(ErrorObject::request_failed(format!(
                "ephemeral thread does not support goals: {uuid}"
            )));
        }
        match self.store.read_thread(uuid) {
            Ok(Some(record)) if !record.archived => Ok((uuid, record)),
            Ok(_) => Err(ErrorObject::request_failed(format!(
                "thread not found: {uuid}"
            ))),
            Err(err) => Err(ErrorObject::internal(err)),
        }
    }

    /// Keeps a loaded thread's copy of its record in step with what was stored.
    fn keep_loaded(&mut self, stored: ThreadRecord) {
        if let Some(loaded) = self.loaded.get_mut(&stored.id) {
            loaded.record = stored;
        }
    }

    /// The outcome of a goal's record update: kept, or the error for the client (a thread
    /// deleted meanwhile is not found, as Codex says).
    fn keep_stored(
        &mut self,
        thread: Uuid,
        stored: Result<ThreadRecord, StoreError>,
    ) -> Result<(), ErrorObject> {
        match stored {
            Ok(stored) => {
                self.keep_loaded(stored);
                Ok(())
            }
            Err(StoreError::NotFound(_)) => Err(ErrorObject::request_failed(format!(
                "thread not found: {thread}"
            ))),
            Err(err) => Err(ErrorObject::internal(err)),
        }
    }

    pub(crate) fn thread_goal_get(&self, p: ThreadGoalGetParams) -> Reply {
        let (uuid, record) = self.goal_thread(&p.thread_id)?;
        to_value(&ThreadGoalGetResponse {
            goal: record.goal.as_ref().map(|goal| to_protocol(uuid, goal)),
        })
    }

    pub(crate) async fn thread_goal_set(
        &mut self,
        id: &RequestId,
        p: ThreadGoalSetParams,
    ) -> Option<Reply> {
        let uuid = match self.goal_thread(&p.thread_id) {
            Ok((uuid, _)) => uuid,
            Err(err) => return Some(Err(err)),
        };
        let now = Timestamp::now().unix_seconds();
        let mut outcome = Err(String::new());
        let stored = self.store.update_thread(uuid, |record| {
            outcome = apply_set(uuid, record.goal.as_ref(), &p, now);
            if let Ok(goal) = &outcome {
                record.goal = Some(goal.clone());
            }
        });
        if let Err(err) = self.keep_stored(uuid, stored) {
            return Some(Err(err));
        }
        let goal = match outcome {
            Ok(goal) => to_protocol(uuid, &goal),
            Err(message) => return Some(Err(ErrorObject::request_failed(message))),
        };
        self.respond_now(id, to_value(&ThreadGoalSetResponse { goal: goal.clone() }))
            .await;
        self.announce_goal(uuid, None, goal).await;
        None
    }

    pub(crate) async fn thread_goal_clear(
        &mut self,
        id: &RequestId,
        p: ThreadGoalClearParams,
    ) -> Option<Reply> {
        let uuid = match self.goal_thread(&p.thread_id) {
            Ok((uuid, _)) => uuid,
            Err(err) => return Some(Err(err)),
        };
        let mut cleared = false;
        let stored = self.store.update_thread(uuid, |record| {
            cleared = record.goal.take().is_some();
        });
        if let Err(err) = self.keep_stored(uuid, stored) {
            return Some(Err(err));
        }
        self.respond_now(id, to_value(&ThreadGoalClearResponse { cleared }))
            .await;
        if cleared {
            let notification = ThreadGoalClearedNotification {
                thread_id: uuid.to_string(),
            };
            self.notify_thread(uuid, ServerNotification::ThreadGoalCleared(notification))
                .await;
        }
        None
    }

    async fn announce_goal(&self, thread: Uuid, turn: Option<Uuid>, goal: ThreadGoal) {
        let updated = ThreadGoalUpdatedNotification {
            thread_id: thread.to_string(),
            turn_id: turn.map(|turn| turn.to_string()),
            goal,
        };
        self.notify_thread(thread, ServerNotification::ThreadGoalUpdated(updated))
            .await;
    }

    /// After `thread/resume`, like Codex: the thread's goal, if it has one.
    pub(crate) async fn announce_goal_on_resume(&self, thread: Uuid) {
        let Some(goal) = self
            .loaded
            .get(&thread)
            .and_then(|loaded| loaded.record.goal.as_ref())
        else {
            return;
        };
        self.announce_goal(thread, None, to_protocol(thread, goal))
            .await;
    }

    /// At the end of a turn of a thread with an active goal: counts the turn toward it and
    /// announces the goal with the turn's id (before the turn's `turn/completed`). A turn
    /// that used no tokens changes nothing, as in Codex.
    pub(crate) async fn count_goal_turn(
        &mut self,
        thread: Uuid,
        turn: Uuid,
        dir: &Path,
        started_at_ms: i64,
    ) {
        let stored = self
            .loaded
            .get(&thread)
            .is_some_and(|loaded| loaded.ephemeral == Ephemeral::No);
        // The record as stored: another server may have set the goal.
        let active = stored
            && matches!(self.store.read_thread(thread), Ok(Some(record))
                if record.goal.as_ref().is_some_and(|goal| goal.status == GoalStatus::Active));
        let tokens = if active { turn_tokens(dir) } else { 0 };
        if tokens == 0 {
            return;
        }
        let now = Timestamp::now().unix_seconds();
        let mut counted = None;
        let stored = self.store.update_thread(thread, |record| {
            if let Some(goal) = record.goal.as_mut()
                && count_turn(goal, turn, tokens, now_ms() - started_at_ms, now)
            {
                counted = Some(goal.clone());
            }
        });
        match stored {
            Ok(stored) => self.keep_loaded(stored),
            Err(err) => tracing::warn!("cannot count turn {turn} toward the goal: {err}"),
        }
        if let Some(goal) = counted {
            self.announce_goal(thread, Some(turn), to_protocol(thread, &goal))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(extra: serde_json::Value) -> ThreadGoalSetParams {
        let mut params = json!({"threadId": "t"});
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(params).unwrap()
    }

    fn goal(objective: &str, status: GoalStatus) -> store::ThreadGoal {
        store::ThreadGoal {
            objective: objective.to_owned(),
            status,
            token_budget: Some(100),
            tokens_used: 40,
            time_used_ms: 3_000,
            created_at: 10,
            updated_at: 20,
            last_counted_turn: None,
        }
    }

    const THREAD: Uuid = Uuid::nil();

    #[test]
    fn a_new_objective_starts_a_goal_and_the_same_one_keeps_its_counts() {
        let set = apply_set(THREAD, None, &params(json!({"objective": "  Ship  "})), 50);
        let fresh = set.unwrap();
        assert_eq!(
            (fresh.objective.as_str(), fresh.status, fresh.token_budget),
            ("Ship", GoalStatus::Active, None)
        );
        assert_eq!(
            (fresh.created_at, fresh.updated_at, fresh.tokens_used),
            (50, 50, 0)
        );
        let current = goal("Ship", GoalStatus::Paused);
        let same = apply_set(
            THREAD,
            Some(&current),
            &params(json!({"objective": "Ship", "status": "active"})),
            60,
        )
        .unwrap();
        assert_eq!(
            (same.status, same.tokens_used, same.created_at),
            (GoalStatus::Active, 40, 10)
        );
        assert_eq!((same.updated_at, same.token_budget), (60, Some(100)));
        // Another objective, or the same over a completed goal, starts again from zero.
        for (objective, status) in [
            ("Other", GoalStatus::Paused),
            ("Ship", GoalStatus::Complete),
        ] {
            let current = goal("Ship", status);
            let set = params(json!({"objective": objective}));
            let again = apply_set(THREAD, Some(&current), &set, 70).unwrap();
            assert_eq!(
                (again.tokens_used, again.created_at),
                (0, 70),
                "{objective} {status:?}"
            );
            assert_eq!(again.token_budget, None);
        }
    }

    #[test]
    fn without_an_objective_only_status_and_budget_change_and_a_no_op_keeps_the_time() {
        let current = goal("Ship", GoalStatus::Active);
        let unchanged = apply_set(THREAD, Some(&current), &params(json!({})), 99).unwrap();
        assert_eq!(unchanged, current);
        let cleared_budget = apply_set(
            THREAD,
            Some(&current),
            &params(json!({"tokenBudget": null})),
            99,
        )
        .unwrap();
        assert_eq!(
            (cleared_budget.token_budget, cleared_budget.updated_at),
            (None, 99)
        );
        let err = apply_set(THREAD, None, &params(json!({"status": "paused"})), 99).unwrap_err();
        assert_eq!(
            err,
            "cannot update goal for thread 00000000-0000-0000-0000-000000000000: no goal exists"
        );
    }

    #[test]
    fn codex_refuses_an_empty_objective_and_a_budget_that_is_not_positive() {
        for (extra, message) in [
            (
                json!({"objective": " \n "}),
                "goal objective must not be empty",
            ),
            (
                json!({"objective": "x", "tokenBudget": 0}),
                "goal budgets must be positive when provided",
            ),
            (
                json!({"tokenBudget": -5}),
                "goal budgets must be positive when provided",
            ),
        ] {
            let current = goal("Ship", GoalStatus::Active);
            assert_eq!(
                apply_set(THREAD, Some(&current), &params(extra.clone()), 1).unwrap_err(),
                message,
                "{extra}"
            );
        }
    }

    #[test]
    fn an_active_goal_counts_each_turn_once_until_its_budget_is_used() {
        let mut active = goal("Ship", GoalStatus::Active);
        let first = Uuid::now_v7();
        let second = Uuid::now_v7();
        assert!(count_turn(&mut active, first, 30, 1_500, 80));
        assert_eq!(
            (active.tokens_used, active.time_used_ms, active.updated_at),
            (70, 4_500, 80)
        );
        assert!(
            !count_turn(&mut active, first, 30, 1_500, 81),
            "counted twice"
        );
        assert_eq!(active.status, GoalStatus::Active);
        assert!(count_turn(&mut active, second, 30, 0, 82));
        assert_eq!(
            (active.tokens_used, active.status),
            (100, GoalStatus::BudgetLimited)
        );
        let mut paused = goal("Ship", GoalStatus::Paused);
        assert!(!count_turn(&mut paused, Uuid::now_v7(), 30, 10, 83));
        assert_eq!(paused, goal("Ship", GoalStatus::Paused));
    }

    #[test]
    fn only_an_active_goal_reaches_the_prompt() {
        let active = goal("Ship the release", GoalStatus::Active);
        let context = prompt_context(Some(&active)).unwrap();
        assert!(
            context
                .starts_with("[goal of this thread (40 of its 100 tokens used): Ship the release]"),
            "{context}"
        );
        let mut unbudgeted = active.clone();
        unbudgeted.token_budget = None;
        assert!(
            prompt_context(Some(&unbudgeted))
                .unwrap()
                .starts_with("[goal of this thread: Ship the release]")
        );
        for status in [
            GoalStatus::Paused,
            GoalStatus::Complete,
            GoalStatus::BudgetLimited,
        ] {
            assert_eq!(prompt_context(Some(&goal("x", status))), None, "{status:?}");
        }
        assert_eq!(prompt_context(None), None);
    }

    #[test]
    fn the_wire_goal_reports_whole_seconds() {
        let wire = to_protocol(THREAD, &goal("Ship", GoalStatus::UsageLimited));
        assert_eq!(
            serde_json::to_value(wire).unwrap(),
            json!({"threadId": THREAD.to_string(), "objective": "Ship", "status": "usageLimited",
                "tokenBudget": 100, "tokensUsed": 40, "timeUsedSeconds": 3, "createdAt": 10,
                "updatedAt": 20})
        );
    }
}
