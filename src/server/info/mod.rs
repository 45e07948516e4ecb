//! What a client asks about the server before its first thread: `account/read` (here),
//! `config/read` (`config.rs`) and `model/list` (`models.rs`).
//!
//! A provider of kind `codex` running its own command line is Codex itself: for it, the
//! account and the models are the backend's, asked from its own app-server
//! (`backend::codex_app_server`) while the loop waits (tens of milliseconds; at most
//! [`ASK_TIMEOUT`]). When it cannot be asked, the answer is the one for any other provider,
//! and the reason goes to the log.

mod config;
mod models;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::state::{Reply, Server, to_value};
use crate::backend::codex_app_server::{self, ASKED_ENV, Backend};
use crate::config::{Provider, ProviderKind};
use crate::jsonrpc::ErrorObject;
use crate::protocol::{AskForApproval, GetAccountParams, GetAccountResponse, SandboxMode};

/// The approval policy of a thread whose client names none.
pub(crate) const DEFAULT_APPROVAL_POLICY: AskForApproval = AskForApproval::OnRequest;
/// The sandbox of a thread whose client names none.
pub(crate) const DEFAULT_SANDBOX: SandboxMode = SandboxMode::ReadOnly;

/// How long a backend's app-server gets to start and answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

impl Server {
    /// `account/read`: the default provider's account. Only Codex has OpenAI accounts; any
    /// other backend needs none from the client.
    pub(crate) async fn account_read(&self, p: GetAccountParams) -> Reply {
        let provider = self
            .config
            .default_provider()
            .ok_or_else(|| ErrorObject::internal("the default provider is not configured"))?;
        if let Some(program) = askable_codex(provider) {
            // Codex's `refreshToken` is a boolean or absent, never `null`.
            let params = serde_json::to_value(&p).unwrap_or_else(|_| json!({}));
            let asked = ask(provider, &program, async |session| {
                let result = session.request("account/read", params).await?;
                serde_json::from_value::<GetAccountResponse>(result)
                    .map_err(|err| format!("account/read: unexpected result: {err}"))
            })
            .await;
            match asked {
                Ok(response) => return to_value(&response),
                Err(err) => warn_not_asked(provider, &err),
            }
        }
        to_value(&GetAccountResponse {
            account: None,
            user_id: None,
            requires_openai_auth: false,
            workspace_routing: None,
        })
    }
}

/// The program of a provider that is Codex itself (kind `codex`, its own command line), to
/// ask its app-server; `None` for any other provider, and inside an app-server that an
/// agent-host is asking (`ASKED_ENV`), which must not ask further.
fn askable_codex(provider: &Provider) -> Option<PathBuf> {
    let codex = matches!(provider.kind, ProviderKind::Codex | ProviderKind::CodexExec)
        && provider.runs_own_command_line();
    let asked = std::env::var_os(ASKED_ENV).is_some();
    (codex && !asked).then(|| PathBuf::from(&provider.command))
}

/// Asks the provider's app-server, run in the server's working directory.
async fn ask<T>(
    provider: &Provider,
    program: &std::path::Path,
    talk: impl AsyncFnOnce(&mut codex_app_server::Session) -> Result<T, String>,
) -> Result<T, String> {
    let cwd = std::env::current_dir().map_err(|err| format!("no working directory: {err}"))?;
    let backend = Backend {
        program,
        env: &provider.env,
        env_inherit: provider.env_inherit.as_deref(),
        cwd: &cwd,
    };
    codex_app_server::ask(backend, ASK_TIMEOUT, talk).await
}

fn warn_not_asked(provider: &Provider, error: &str) {
    tracing::warn!(
        provider = %provider.name,
        "cannot ask the codex backend, answering without it: {error}"
    );
}
