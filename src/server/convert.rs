//! Conversions from stored records to protocol types. Stored records are versioned types of
//! their own; only this module knows how they look on the wire.

use std::path::Path;

use super::state::{Ephemeral, LoadedStatus};
use crate::protocol::{
    ActivePermissionProfile, ApprovalsReviewer, AskForApproval, HistoryMode, SandboxMode,
    SandboxPolicy, SessionSource, Thread, ThreadActiveFlag, ThreadEnvironment, ThreadStartResponse,
    ThreadStatus, ThreadTokenUsage, TokenUsageBreakdown, Turn,
};
use crate::store::ThreadRecord;

/// Whether the thread is loaded in this server, and if so its live status.
pub(crate) enum Loaded<'a> {
    Yes(&'a LoadedStatus, Ephemeral),
    No,
}

pub(crate) fn status(status: &LoadedStatus) -> ThreadStatus {
    match status {
        LoadedStatus::Idle => ThreadStatus::Idle,
        LoadedStatus::SystemError => ThreadStatus::SystemError,
        LoadedStatus::Active {
            waiting_on_approval,
        } => ThreadStatus::Active {
            active_flags: if *waiting_on_approval {
                vec![ThreadActiveFlag::WaitingOnApproval]
            } else {
                Vec::new()
            },
        },
    }
}

/// The protocol view of a thread record.
pub(crate) fn thread(
    record: &ThreadRecord,
    state_dir: &Path,
    loaded: Loaded<'_>,
    turns: Vec<Turn>,
) -> Thread {
    let (status, ephemeral, environments) = match loaded {
        Loaded::Yes(live, ephemeral) => (
            status(live),
            ephemeral == Ephemeral::Yes,
            Some(vec![ThreadEnvironment {
                environment_id: "local".to_string(),
                cwd: record.cwd.clone(),
                runtime_workspace_roots: vec![record.cwd.clone()],
            }]),
        ),
        Loaded::No => (ThreadStatus::NotLoaded, false, None),
    };
    let path = if ephemeral {
        None
    } else {
        Some(
            state_dir
                .join(crate::store::THREADS_DIR_NAME)
                .join(record.id.hyphenated().to_string())
                .display()
                .to_string(),
        )
    };
    Thread {
        id: record.id.to_string(),
        environments,
        extra: None,
        session_id: record.id.to_string(),
        forked_from_id: record.forked_from_id.map(|id| id.to_string()),
        attached_to_thread_id: None,
        parent_thread_id: None,
        preview: record.preview.clone(),
        ephemeral,
        section: None,
        section_entered_at: None,
        project_id: None,
        history_mode: HistoryMode::Legacy,
        model_provider: record.model_provider.clone(),
        model: record.model.clone(),
        reasoning_effort: record.reasoning_effort.clone(),
        created_at: record.created_at,
        updated_at: record.updated_at,
        recency_at: Some(record.updated_at),
        status,
        path,
        cwd: record.cwd.clone(),
        cli_version: record.cli_version.clone(),
        originator: record.originator.clone(),
        source: SessionSource::VsCode,
        can_accept_direct_input: Some(true),
        thread_source: None,
        agent_nickname: None,
        agent_role: None,
        git_info: None,
        name: record.name.clone(),
        daybreak_enabled: None,
        turns,
    }
}

/// The approval policy stored with a thread.
pub(crate) fn approval_policy(record: &ThreadRecord) -> AskForApproval {
    serde_json::from_value(record.approval_policy.clone()).unwrap_or(AskForApproval::OnRequest)
}

/// The sandbox mode stored with a thread.
pub(crate) fn sandbox_mode(record: &ThreadRecord) -> SandboxMode {
    serde_json::from_value(record.sandbox.clone()).unwrap_or(SandboxMode::ReadOnly)
}

/// The sandbox policy of a sandbox mode, for the working directory `cwd`.
pub(crate) fn sandbox_policy(mode: SandboxMode, cwd: &str) -> SandboxPolicy {
    match mode {
        SandboxMode::ReadOnly => SandboxPolicy::ReadOnly {
            network_access: false,
        },
        SandboxMode::WorkspaceWrite => SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![cwd.to_string()],
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        },
        SandboxMode::DangerFullAccess => SandboxPolicy::DangerFullAccess,
    }
}

fn permission_profile(mode: SandboxMode) -> &'static str {
    match mode {
        SandboxMode::ReadOnly => ":read-only",
        SandboxMode::WorkspaceWrite => ":workspace-write",
        SandboxMode::DangerFullAccess => ":danger-full-access",
    }
}

/// The result of `thread/start`, `thread/resume` and `thread/fork`: the thread and the
/// settings in effect.
pub(crate) fn session_response(record: &ThreadRecord, thread: Thread) -> ThreadStartResponse {
    let mode = sandbox_mode(record);
    ThreadStartResponse {
        model: record.model.clone().unwrap_or_default(),
        model_provider: record.model_provider.clone(),
        service_tier: None,
        disabled_plugin_ids: Vec::new(),
        cwd: record.cwd.clone(),
        runtime_workspace_roots: vec![record.cwd.clone()],
        instruction_sources: Vec::new(),
        approval_policy: approval_policy(record),
        approvals_reviewer: ApprovalsReviewer::User,
        sandbox: sandbox_policy(mode, &record.cwd),
        active_permission_profile: Some(ActivePermissionProfile {
            id: permission_profile(mode).to_string(),
            extends: None,
        }),
        reasoning_effort: record.reasoning_effort.clone(),
        multi_agent_mode: Some("explicitRequestOnly".to_string()),
        thread,
    }
}

/// A recorded token breakdown as the wire carries it.
pub(crate) fn breakdown(counts: &crate::events::TokenBreakdown) -> TokenUsageBreakdown {
    let wire = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    TokenUsageBreakdown {
        total_tokens: wire(counts.total_tokens),
        input_tokens: wire(counts.input_tokens),
        cached_input_tokens: wire(counts.cached_input_tokens),
        cache_write_input_tokens: wire(counts.cache_write_input_tokens),
        output_tokens: wire(counts.output_tokens),
        reasoning_output_tokens: wire(counts.reasoning_output_tokens),
    }
}

/// A `tokenUsage` record as `thread/tokenUsage/updated` carries it.
pub(crate) fn token_usage(
    total: &crate::events::TokenBreakdown,
    last: &crate::events::TokenBreakdown,
    model_context_window: Option<u64>,
) -> ThreadTokenUsage {
    ThreadTokenUsage {
        total: breakdown(total),
        last: breakdown(last),
        model_context_window: model_context_window.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
    }
}

/// A recorded end status as the wire shows it.
pub(crate) fn turn_status(status: crate::events::TurnStatus) -> crate::protocol::TurnStatus {
    match status {
        crate::events::TurnStatus::Completed => crate::protocol::TurnStatus::Completed,
        crate::events::TurnStatus::Interrupted => crate::protocol::TurnStatus::Interrupted,
        crate::events::TurnStatus::Failed => crate::protocol::TurnStatus::Failed,
    }
}
