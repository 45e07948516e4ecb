//! The pure step of `turn/start`: from the request, the thread's record, the configuration
//! and what the earlier turns left, the turn a runner will run (`turn.json` and
//! `spec.json`). No IO happens here; `start.rs` does the effects around it.

use std::path::PathBuf;

use uuid::Uuid;

use super::super::{thread_goal, usage};
use super::TurnRecord;
use super::input::{ImageDelivery, local_images, prompt_text};
use crate::backend;
use crate::backend::permissions::Permissions;
use crate::config::{
    InterruptConfig, NotifyConfig, PromptVia as ConfigPromptVia, Provider, ProviderKind,
};
use crate::events::{self, Mode};
use crate::protocol::TurnStartParams;
use crate::spec;
use crate::store::ThreadRecord;

/// Everything a new turn is decided from.
pub(super) struct PlanInput<'a> {
    pub params: &'a TurnStartParams,
    /// The thread's record, read under its lock.
    pub thread: &'a ThreadRecord,
    pub provider: &'a Provider,
    /// The checked working directory (the request's, else the thread's).
    pub cwd: String,
    pub interrupt: &'a InterruptConfig,
    /// The completion notice's configuration.
    pub notify: &'a NotifyConfig,
    /// The backend session the turn resumes ([`resume_session`]).
    pub resume_session_id: Option<String>,
    /// The token counts the turn starts from (`server/usage.rs`).
    pub usage_base: usage::Base,
    pub turn_id: Uuid,
    pub user_message_id: Uuid,
    pub started_at_ms: i64,
}

/// What a new turn runs: the user's record of it and the runner's spec.
#[derive(Debug, Clone)]
pub(super) struct TurnPlan {
    /// The new turn's id (also in `record` and `spec`, as text).
    pub turn: Uuid,
    pub record: TurnRecord,
    pub spec: spec::Spec,
    /// The prompt of the user's input alone (the spec's prompt may add the thread's goal).
    pub user_prompt: String,
    /// The completion notice the turn owes, if any.
    pub notice: Option<Notice>,
}

/// A completion notice a turn owes (`crate::notify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Notice {
    pub argv: Vec<String>,
    pub timeout_ms: u64,
}

/// The notice a turn run in `mode` owes: background turns get one when a program is
/// configured, foreground turns only with `notify_foreground`.
fn notice(notify: &NotifyConfig, mode: Mode) -> Option<Notice> {
    let wanted = match mode {
        Mode::Background => true,
        Mode::Foreground => notify.foreground,
    };
    let argv = notify.program.clone().filter(|_| wanted)?;
    Some(Notice {
        argv,
        timeout_ms: notify.timeout_ms,
    })
}

impl TurnPlan {
    pub fn mode(&self) -> Mode {
        self.spec.mode
    }
}

/// The session a turn resumes: for a thread that continues its session, the one the last
/// turn announced in its log (a turn that ended while no server followed it never reached
/// the thread record), else the one the thread record holds.
pub(super) fn resume_session(
    thread: &ThreadRecord,
    last_announced: Option<String>,
) -> Option<String> {
    if !thread.continue_session {
        return None;
    }
    last_announced.or_else(|| thread.backend_session_id.clone())
}

/// The turn that `input` describes.
pub(super) fn plan(input: PlanInput<'_>) -> TurnPlan {
    let p = input.params;
    // A turn that resumes a session runs the provider's resume form, if it has one.
    let provider = spec_provider(input.provider, input.resume_session_id.is_some());
    let (images, delivery): (Vec<PathBuf>, ImageDelivery) = if backend::takes_image_flags(&provider)
    {
        (local_images(&p.input), ImageDelivery::Flags)
    } else {
        (Vec::new(), ImageDelivery::PromptLines)
    };
    let mode = if p.background.unwrap_or(false) {
        Mode::Background
    } else {
        Mode::Foreground
    };
    let record = TurnRecord {
        v: 1,
        turn_id: input.turn_id.to_string(),
        user_message_id: input.user_message_id.to_string(),
        client_user_message_id: p.client_user_message_id.clone(),
        input: p.input.clone(),
        started_at_ms: input.started_at_ms,
        review: None,
    };
    let user_prompt = prompt_text(&p.input, delivery);
    // The thread's active goal goes with every turn, as Codex gives it to its model.
    let prompt = match thread_goal::prompt_context(input.thread.goal.as_ref()) {
        Some(goal) => format!("{user_prompt}\n\n{goal}"),
        None => user_prompt.clone(),
    };
    let spec = spec::Spec {
        v: events::RECORD_VERSION,
        thread_id: p.thread_id.clone(),
        turn_id: input.turn_id.to_string(),
        mode,
        cwd: PathBuf::from(&input.cwd),
        provider,
        prompt,
        images,
        model: p.model.clone().or(input.thread.model.clone()),
        resume_session_id: input.resume_session_id,
        approval_policy: Some(approval_policy(p, input.thread)),
        sandbox_policy: Some(sandbox_policy(p, input.thread, &input.cwd)),
        grace_ms: spec::GraceMs {
            cancel: input.interrupt.cancel_grace_ms,
            term: input.interrupt.term_grace_ms,
            ..spec::GraceMs::default()
        },
        // `tokenUsage.total` counts the whole thread: the runner adds this turn's usage to
        // the total of the earlier turns.
        previous_total_usage: Some(input.usage_base.thread_total),
        resumed_session_usage: input.usage_base.session_total,
    };
    TurnPlan {
        turn: input.turn_id,
        record,
        spec,
        user_prompt,
        notice: notice(input.notify, mode),
    }
}

/// Why the planned turn cannot run with the approval policy and sandbox it asks for, if it
/// cannot: the provider's own lists of what it holds (`sandbox_modes`,
/// `approval_policies`), then what its kind can hold (`backend::permissions`). `as_root`:
/// the backend would run as root.
pub(super) fn permission_refusal(
    spec: &spec::Spec,
    provider: &Provider,
    as_root: bool,
) -> Option<String> {
    let asked = Permissions::of(spec);
    let (approval, sandbox) = (asked.approval.as_str(), asked.sandbox.as_str());
    let unlisted = |listed: Option<Vec<&str>>, key: &str, setting: &str, value: &str| {
        listed.filter(|names| !names.contains(&value)).map(|names| {
            format!(
                "provider `{}` cannot hold {setting} `{value}`: its `{key}` lists only {}",
                provider.name,
                names.join(", ")
            )
        })
    };
    let sandboxes = provider
        .sandbox_modes
        .as_ref()
        .map(|names| names.iter().map(|n| n.as_str()).collect());
    let policies = provider
        .approval_policies
        .as_ref()
        .map(|names| names.iter().map(|n| n.as_str()).collect());
    unlisted(sandboxes, "sandbox_modes", "sandbox", sandbox)
        .or_else(|| unlisted(policies, "approval_policies", "approvalPolicy", approval))
        .or_else(|| backend::permissions::refusal(spec, as_root))
}

/// What a started turn leaves as its thread's settings: its approval policy, and the mode of
/// its sandbox (none for an external sandbox, which has no mode; the thread keeps its own).
pub(super) fn persisted_settings(
    spec: &spec::Spec,
) -> (Option<serde_json::Value>, Option<serde_json::Value>) {
    use crate::protocol::{SandboxMode, SandboxPolicy};
    let policy = spec
        .sandbox_policy
        .clone()
        .and_then(|policy| serde_json::from_value::<SandboxPolicy>(policy).ok());
    let mode = match policy {
        Some(SandboxPolicy::ReadOnly { .. }) => Some(SandboxMode::ReadOnly),
        Some(SandboxPolicy::WorkspaceWrite { .. }) => Some(SandboxMode::WorkspaceWrite),
        Some(SandboxPolicy::DangerFullAccess) => Some(SandboxMode::DangerFullAccess),
        Some(SandboxPolicy::ExternalSandbox { .. }) | None => None,
    };
    (
        spec.approval_policy.clone(),
        mode.and_then(|mode| serde_json::to_value(mode).ok()),
    )
}

/// The turn's approval policy: the request's, else the thread's.
fn approval_policy(p: &TurnStartParams, thread: &ThreadRecord) -> serde_json::Value {
    match &p.approval_policy {
        Some(policy) => serde_json::to_value(policy).unwrap_or_default(),
        None => thread.approval_policy.clone(),
    }
}

/// The turn's sandbox as Codex's `SandboxPolicy` object: the request's `sandboxPolicy`, else
/// the policy of the thread's sandbox mode for the turn's working directory.
fn sandbox_policy(p: &TurnStartParams, thread: &ThreadRecord, cwd: &str) -> serde_json::Value {
    let policy = p.sandbox_policy.clone().unwrap_or_else(|| {
        super::super::convert::sandbox_policy(super::super::convert::sandbox_mode(thread), cwd)
    });
    serde_json::to_value(policy).unwrap_or_default()
}

/// The provider as the runner's spec holds it; `resuming`: the turn resumes a recorded
/// session, and runs the provider's `resume_args` if it has them.
pub(crate) fn spec_provider(provider: &crate::config::Provider, resuming: bool) -> spec::Provider {
    let args = match (resuming, &provider.resume_args) {
        (true, Some(resume_args)) => resume_args.clone(),
        (true, None) | (false, _) => provider.args.clone(),
    };
    spec::Provider {
        name: provider.name.clone(),
        kind: match provider.kind {
            ProviderKind::Jsonl => spec::BackendKind::Jsonl,
            ProviderKind::Codex => spec::BackendKind::Codex,
            ProviderKind::CodexExec => spec::BackendKind::CodexExec,
            ProviderKind::Claude => spec::BackendKind::Claude,
            ProviderKind::Gemini => spec::BackendKind::Gemini,
            ProviderKind::Acp => spec::BackendKind::Acp,
        },
        command: provider.command.clone(),
        args,
        env: provider.env.keys().cloned().collect(),
        env_inherit: provider.env_inherit.clone(),
        prompt_via: match provider.prompt_via {
            ConfigPromptVia::Arg => spec::PromptVia::Arg,
            ConfigPromptVia::Stdin => spec::PromptVia::Stdin,
        },
        approvals: provider.approvals.into(),
        input: provider.input.into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Config;
    use crate::store::Timestamp;

    const CONFIG: &str = r#"
[providers.flags]
kind = "codex"
command = "codex"
[providers.resumable]
kind = "jsonl"
command = "agent"
args = ["run", "{prompt}"]
resume_args = ["run", "--resume", "{session}", "{prompt}"]
"#;

    fn thread(provider: &str) -> ThreadRecord {
        let mut record = ThreadRecord::new(
            Uuid::now_v7(),
            "/srv/project".to_owned(),
            provider.to_owned(),
            "0".to_owned(),
            Timestamp {
                unix_ms: 1_764_000_000_000,
            },
        );
        record.model = Some("thread-model".to_owned());
        record.approval_policy = json!("never");
        record
    }

    fn params(extra: serde_json::Value) -> TurnStartParams {
        let mut params = json!({"threadId": "t", "input": [
            {"type": "text", "text": "look"},
            {"type": "localImage", "path": "/pics/a.png"}]});
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(params).unwrap()
    }

    fn plan_for(provider: &str, params: &TurnStartParams, resume: Option<&str>) -> TurnPlan {
        plan_with(&thread(provider), params, resume)
    }

    fn plan_with(
        thread: &ThreadRecord,
        params: &TurnStartParams,
        resume: Option<&str>,
    ) -> TurnPlan {
        let config = Config::from_toml(CONFIG, &[]).unwrap();
        plan(PlanInput {
            params,
            thread,
            provider: config.provider(&thread.model_provider).unwrap(),
            cwd: "/srv/project/sub".to_owned(),
            interrupt: &config.interrupt,
            notify: &config.notify,
            resume_session_id: resume.map(str::to_owned),
            usage_base: usage::Base::default(),
            turn_id: Uuid::now_v7(),
            user_message_id: Uuid::now_v7(),
            started_at_ms: 1_764_000_000_500,
        })
    }

    #[test]
    fn a_codex_turn_gets_its_images_as_flags_and_other_kinds_as_prompt_lines() {
        let p = params(json!({}));
        let codex = plan_for("flags", &p, None);
        assert_eq!(codex.spec.images, [PathBuf::from("/pics/a.png")]);
        assert_eq!(codex.spec.prompt, "look");
        let other = plan_for("resumable", &p, None);
        assert!(other.spec.images.is_empty());
        assert_eq!(other.spec.prompt, "look\n[image: /pics/a.png]");
    }

    #[test]
    fn a_resuming_turn_runs_the_resume_form_with_the_session() {
        let p = params(json!({}));
        let fresh = plan_for("resumable", &p, None);
        assert_eq!(fresh.spec.provider.args, ["run", "{prompt}"]);
        let resumed = plan_for("resumable", &p, Some("s-1"));
        assert_eq!(
            resumed.spec.provider.args,
            ["run", "--resume", "{session}", "{prompt}"]
        );
        assert_eq!(resumed.spec.resume_session_id.as_deref(), Some("s-1"));
    }

    #[test]
    fn the_request_decides_mode_model_and_cwd_over_the_thread() {
        let p = params(json!({"background": true, "model": "turn-model"}));
        let planned = plan_for("resumable", &p, None);
        assert_eq!(planned.mode(), Mode::Background);
        assert_eq!(planned.spec.model.as_deref(), Some("turn-model"));
        assert_eq!(planned.spec.cwd, PathBuf::from("/srv/project/sub"));
        assert_eq!(planned.record.started_at_ms, 1_764_000_000_500);
        let default = plan_for("resumable", &params(json!({})), None);
        assert_eq!(default.mode(), Mode::Foreground);
        assert_eq!(default.spec.model.as_deref(), Some("thread-model"));
    }

    #[test]
    fn the_active_goal_of_the_thread_goes_with_the_prompt_and_not_into_the_preview() {
        let p = params(json!({}));
        let mut record = thread("resumable");
        record.goal = Some(crate::store::ThreadGoal {
            objective: "Ship the release".to_owned(),
            status: crate::store::GoalStatus::Active,
            token_budget: None,
            tokens_used: 0,
            time_used_ms: 0,
            created_at: 1,
            updated_at: 1,
            last_counted_turn: None,
        });
        let planned = plan_with(&record, &p, None);
        assert_eq!(planned.user_prompt, "look\n[image: /pics/a.png]");
        let goal = thread_goal::prompt_context(record.goal.as_ref()).unwrap();
        assert!(goal.contains("Ship the release"), "{goal}");
        assert_eq!(
            planned.spec.prompt,
            format!("look\n[image: /pics/a.png]\n\n{goal}")
        );
        // A goal that is not active is not the backend's business.
        if let Some(goal) = record.goal.as_mut() {
            goal.status = crate::store::GoalStatus::Paused;
        }
        let paused = plan_with(&record, &p, None);
        assert_eq!(paused.spec.prompt, paused.user_prompt);
    }

    #[test]
    fn the_turns_approval_policy_and_sandbox_win_over_the_threads_and_stay_its() {
        let thread_default = plan_for("resumable", &params(json!({})), None);
        assert_eq!(thread_default.spec.approval_policy, Some(json!("never")));
        assert_eq!(
            thread_default.spec.sandbox_policy,
            Some(json!({"type": "readOnly", "networkAccess": false}))
        );
        let p = params(json!({"approvalPolicy": "untrusted",
            "sandboxPolicy": {"type": "workspaceWrite", "networkAccess": true}}));
        let planned = plan_for("resumable", &p, None);
        assert_eq!(planned.spec.approval_policy, Some(json!("untrusted")));
        assert_eq!(
            planned.spec.sandbox_policy.as_ref().unwrap()["networkAccess"],
            true
        );
        assert_eq!(
            persisted_settings(&planned.spec),
            (Some(json!("untrusted")), Some(json!("workspace-write")))
        );
        let external = params(json!({"sandboxPolicy": {"type": "externalSandbox"}}));
        assert_eq!(
            persisted_settings(&plan_for("resumable", &external, None).spec).1,
            None
        );
    }

    #[test]
    fn a_provider_that_lists_what_it_holds_refuses_the_rest() {
        let config = Config::from_toml(
            "[providers.x]\nkind = \"jsonl\"\ncommand = \"agent\"\nargs = [\"{prompt}\"]\n\
             sandbox_modes = [\"read-only\"]\napproval_policies = [\"never\"]\n",
            &[],
        )
        .unwrap();
        let provider = config.provider("x").unwrap();
        let mut planned = plan_for("resumable", &params(json!({})), None).spec;
        assert_eq!(permission_refusal(&planned, provider, false), None);
        planned.approval_policy = Some(json!("on-request"));
        let why = permission_refusal(&planned, provider, false).unwrap();
        assert!(
            why.contains("approvalPolicy `on-request`") && why.contains("never"),
            "{why}"
        );
        planned.sandbox_policy = Some(json!({"type": "dangerFullAccess"}));
        let why = permission_refusal(&planned, provider, false).unwrap();
        assert!(why.contains("sandbox `danger-full-access`"), "{why}");
    }

    #[test]
    fn background_turns_owe_the_notice_and_foreground_ones_only_when_asked() {
        let program = Some(vec!["notify-send".to_owned()]);
        let on = NotifyConfig {
            program: program.clone(),
            ..NotifyConfig::default()
        };
        let expected = Some(Notice {
            argv: vec!["notify-send".to_owned()],
            timeout_ms: on.timeout_ms,
        });
        assert_eq!(notice(&on, Mode::Background), expected);
        assert_eq!(notice(&on, Mode::Foreground), None);
        let foreground = NotifyConfig {
            foreground: true,
            ..on.clone()
        };
        assert_eq!(notice(&foreground, Mode::Foreground), expected);
        assert_eq!(notice(&NotifyConfig::default(), Mode::Background), None);
    }

    #[test]
    fn only_a_continued_thread_resumes_and_the_last_announced_session_wins() {
        let mut record = thread("resumable");
        record.backend_session_id = Some("from-record".to_owned());
        assert_eq!(resume_session(&record, Some("announced".to_owned())), None);
        record.continue_session = true;
        assert_eq!(
            resume_session(&record, Some("announced".to_owned())).as_deref(),
            Some("announced")
        );
        assert_eq!(
            resume_session(&record, None).as_deref(),
            Some("from-record")
        );
    }
}
