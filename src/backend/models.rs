//! The models each backend kind offers when a provider's configuration lists none
//! (`models`): what `model/list` shows for it. The first of a list is the kind's default.
//!
//! Claude Code and Gemini CLI take aliases that follow their vendors' newest models, so the
//! lists name those aliases rather than dated model ids. A `codex` backend running its own
//! command line is asked for its catalog instead (`codex_app_server.rs`); its list here is
//! the catalog of the pinned Codex release, for when it cannot be asked.

use crate::config::ProviderKind;

/// A model a kind's CLI takes as its model argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// What the CLI's model flag takes.
    pub id: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
}

const fn model(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
) -> KnownModel {
    KnownModel {
        id,
        display_name,
        description,
    }
}

/// The catalog of Codex 0.169.0 (`codex app-server`'s `model/list`), without its hidden
/// models, in its order.
const CODEX: &[KnownModel] = &[
    model("gpt-6.1-sol", "GPT-6.1-Sol", "Codex's default model."),
    model(
        "gpt-6-astra",
        "GPT-6-Astra",
        "The largest model of the catalog.",
    ),
    model("gpt-6-sol", "GPT-6-Sol", "The previous default model."),
    model("gpt-6-luna", "GPT-6-Luna", "A fast, economical model."),
    model("gpt-5.6-sol", "GPT-5.6-Sol", "An older general model."),
    model("gpt-6.1-terra", "GPT-6.1 Terra", "A balanced model."),
    model("gpt-5.6-terra", "GPT-5.6-Terra", "An older balanced model."),
    model("gpt-5.6-luna", "GPT-5.6-Luna", "An older fast model."),
    model("gpt-5.5", "GPT-5.5", "A legacy model."),
];

/// Claude Code's model aliases (`claude --model ALIAS`).
const CLAUDE: &[KnownModel] = &[
    model(
        "sonnet",
        "Claude Sonnet",
        "The newest Sonnet model: Claude Code's everyday choice.",
    ),
    model(
        "opus",
        "Claude Opus",
        "The newest Opus model, for the hardest tasks.",
    ),
    model(
        "haiku",
        "Claude Haiku",
        "The newest Haiku model: fast and economical.",
    ),
];

/// Gemini CLI's model aliases (`gemini -m ALIAS`).
const GEMINI: &[KnownModel] = &[
    model(
        "auto",
        "Gemini (auto)",
        "Gemini CLI picks a Pro or Flash model for each request.",
    ),
    model("pro", "Gemini Pro", "The newest Pro model."),
    model("flash", "Gemini Flash", "The newest Flash model: fast."),
    model(
        "flash-lite",
        "Gemini Flash-Lite",
        "The newest Flash-Lite model: the fastest.",
    ),
];

/// The models a kind offers on its own; none for `jsonl`, whose commands are the user's.
pub fn builtin_models(kind: ProviderKind) -> &'static [KnownModel] {
    match kind {
        ProviderKind::Codex | ProviderKind::CodexExec => CODEX,
        ProviderKind::Claude => CLAUDE,
        ProviderKind::Gemini => GEMINI,
        ProviderKind::Jsonl | ProviderKind::Acp => &[],
    }
}
