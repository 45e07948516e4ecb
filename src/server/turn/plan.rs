//! The pure step of `turn/start`: what a turn will run.

use crate::config::{PromptVia as ConfigPromptVia, ProviderKind};
use crate::runner::spec;

/// The provider as the runner's spec holds it; `resuming`: the turn resumes a recorded
/// session, and runs the provider's `resume_args` if it has them.
pub(super) fn spec_provider(provider: &crate::config::Provider, resuming: bool) -> spec::Provider {
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
