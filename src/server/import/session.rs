//! Importing Claude Code sessions: the validation of the requested paths (Codex's
//! `session_missing` stage) and the import of each (`session_prepare`, `session_persist`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::super::state::Server;
use super::transcript::{self, Transcript};
use super::{SESSIONS, claude_provider, projects_dir, view};
use crate::config::Provider;
use crate::jsonrpc::quote;
use crate::protocol::*;
use crate::store::{self, ImportSource, ImportedHistory, SourceAgent, ThreadRecord, Timestamp};

/// A requested session that passed validation.
pub(super) struct Selected {
    /// The path as the client gave it (what results name).
    requested: String,
    /// Where the transcript is.
    path: PathBuf,
}

/// A session that could not be imported: the failure's members besides the item type.
struct Refusal {
    error_type: Option<&'static str>,
    stage: &'static str,
    message: String,
}

impl Refusal {
    fn prepare(error_type: &'static str, message: String) -> Refusal {
        Refusal {
            error_type: Some(error_type),
            stage: "session_prepare",
            message,
        }
    }
}

impl Server {
    /// Which requested sessions are transcripts of the provider's Claude, each once; the
    /// others are `session_missing` failures (`session_not_detected`, as Codex reports a
    /// session it did not detect), with the reason.
    pub(super) fn validate_sessions(
        &self,
        requested: &[SessionMigration],
    ) -> (Vec<Selected>, ExternalAgentConfigImportTypeResult) {
        let mut result = view::empty_result(SESSIONS);
        let projects = claude_provider(&self.config).map(projects_dir);
        let mut seen = HashSet::new();
        let mut selected = Vec::new();
        for session in requested {
            match detected(&session.path, &projects) {
                Ok(path) => {
                    if seen.insert(path.clone()) {
                        selected.push(Selected {
                            requested: session.path.clone(),
                            path,
                        });
                    }
                }
                Err(why) => result
                    .failures
                    .push(ExternalAgentConfigImportItemTypeFailure {
                        item_type: SESSIONS,
                        error_type: None,
                        sub_error_type: Some("session_not_detected".to_owned()),
                        failure_stage: "session_missing".to_owned(),
                        message: format!(
                            "external agent session was not detected for import: {}: {why}",
                            view::source_text(&session.path)
                        ),
                        cwd: None,
                        source: Some(view::source_text(&session.path)),
                    }),
            }
        }
        (selected, result)
    }

    /// Imports each selected session as a new thread.
    pub(super) fn import_sessions(
        &mut self,
        selected: Vec<Selected>,
    ) -> ExternalAgentConfigImportTypeResult {
        let mut result = view::empty_result(SESSIONS);
        for session in selected {
            match self.import_session(&session) {
                Ok(success) => result.successes.push(success),
                Err(refusal) => result
                    .failures
                    .push(ExternalAgentConfigImportItemTypeFailure {
                        item_type: SESSIONS,
                        error_type: refusal.error_type.map(str::to_owned),
                        sub_error_type: None,
                        failure_stage: refusal.stage.to_owned(),
                        message: refusal.message,
                        cwd: None,
                        source: Some(view::source_text(&session.requested)),
                    }),
            }
        }
        result
    }

    fn import_session(
        &mut self,
        session: &Selected,
    ) -> Result<ExternalAgentConfigImportItemTypeSuccess, Refusal> {
        let provider = claude_provider(&self.config)
            .map_err(|why| Refusal::prepare("no_claude_provider", why))?
            .clone();
        let transcript = read_transcript(session)?;
        self.check_continuable(&transcript, &provider)?;
        let (record, history) = self.imported_thread(session, &transcript, &provider);
        self.store
            .create_imported_thread(&record, &history)
            .map_err(|err| Refusal {
                error_type: None,
                stage: "session_persist",
                message: format!("cannot store the imported thread: {err}"),
            })?;
        Ok(ExternalAgentConfigImportItemTypeSuccess {
            item_type: SESSIONS,
            cwd: Some(transcript.cwd),
            source: Some(view::source_text(&session.requested)),
            target: Some(record.id.to_string()),
            title: transcript.title,
        })
    }

    /// Whether a new thread can continue the session: its working directory exists, the
    /// provider can resume, and no thread continues it already (two threads resuming one
    /// Claude session would interleave in it).
    fn check_continuable(
        &self,
        transcript: &Transcript,
        provider: &Provider,
    ) -> Result<(), Refusal> {
        if !Path::new(&transcript.cwd).is_absolute() || !Path::new(&transcript.cwd).is_dir() {
            return Err(Refusal::prepare(
                "cwd_not_a_directory",
                format!(
                    "the session's working directory {} is not a directory: the thread's turns \
                     run there",
                    view::source_text(&transcript.cwd)
                ),
            ));
        }
        if !provider.can_resume() {
            return Err(Refusal::prepare(
                "provider_cannot_resume",
                format!(
                    "provider `{}` cannot resume a session; give it `resume_args` or empty `args`",
                    provider.name
                ),
            ));
        }
        let owners = self
            .store
            .threads_with_backend_session(&transcript.session_id)
            .map_err(|err| Refusal::prepare("store", err.to_string()))?;
        match owners.first() {
            Some(thread) => Err(Refusal::prepare(
                "already_imported",
                format!(
                    "session {} is already continued by thread {thread}",
                    transcript.session_id
                ),
            )),
            None => Ok(()),
        }
    }

    /// The new thread's record (the provider's, continuing the session) and its history.
    fn imported_thread(
        &self,
        session: &Selected,
        transcript: &Transcript,
        provider: &Provider,
    ) -> (ThreadRecord, ImportedHistory) {
        let now = Timestamp::now();
        let mut record = ThreadRecord::new(
            store::new_id(),
            transcript.cwd.clone(),
            provider.name.clone(),
            env!("CARGO_PKG_VERSION").to_owned(),
            now,
        );
        record.model = provider.model.clone();
        record.originator = self.originator();
        record.approval_policy =
            serde_json::to_value(AskForApproval::OnRequest).unwrap_or(serde_json::Value::Null);
        record.sandbox =
            serde_json::to_value(SandboxMode::ReadOnly).unwrap_or(serde_json::Value::Null);
        record.continue_session = true;
        record.backend_session_id = Some(transcript.session_id.clone());
        record.has_turns = true;
        record.preview = transcript
            .turns
            .first()
            .map(|turn| turn.prompt.text.clone())
            .unwrap_or_default();
        let history = ImportedHistory {
            source: ImportSource {
                agent: SourceAgent::ClaudeCode,
                path: session.path.display().to_string(),
                session_id: transcript.session_id.clone(),
            },
            imported_at_ms: now.unix_ms,
            turns: view::history_turns(&transcript.turns),
        };
        (record, history)
    }
}

/// The transcript of a requested session: a path in the provider's projects directory,
/// `<projects>/<project>/<file>`, canonical; else why it is not one.
fn detected(raw: &str, projects: &Result<Option<PathBuf>, String>) -> Result<PathBuf, String> {
    let path = Path::new(raw);
    if !path.is_absolute() {
        return Err("not an absolute path".to_owned());
    }
    let canonical = path.canonicalize().map_err(|err| err.to_string())?;
    if !canonical.is_file() {
        return Err("not a file".to_owned());
    }
    let projects = match projects {
        Err(why) => return Err(why.clone()),
        Ok(None) => return Err("neither CLAUDE_CONFIG_DIR nor HOME is set".to_owned()),
        Ok(Some(projects)) => projects,
    };
    let in_projects = projects.canonicalize().is_ok_and(|projects| {
        canonical.parent().and_then(Path::parent) == Some(projects.as_path())
    });
    if !in_projects {
        return Err(format!(
            "not a session in {}, where the Claude Code of provider `claude` finds the \
             sessions it resumes",
            projects.display()
        ));
    }
    Ok(canonical)
}

/// Reads a selected transcript; the session it holds must be the one its file is named
/// after (`<session id>.jsonl`), which is how Claude Code finds it to resume.
fn read_transcript(session: &Selected) -> Result<Transcript, Refusal> {
    let not_a_transcript = |why: String| {
        Refusal::prepare(
            "not_a_claude_transcript",
            format!(
                "{} is not a Claude Code session transcript: {why}",
                view::source_text(&session.requested)
            ),
        )
    };
    let file =
        std::fs::File::open(&session.path).map_err(|err| not_a_transcript(err.to_string()))?;
    let transcript = transcript::read(std::io::BufReader::new(file))
        .map_err(|why| not_a_transcript(why.to_string()))?;
    if Uuid::try_parse(&transcript.session_id).is_err() {
        return Err(not_a_transcript(format!(
            "its session id {} is not a UUID",
            quote(&transcript.session_id)
        )));
    }
    let stem = session.path.file_stem().and_then(|stem| stem.to_str());
    if stem != Some(transcript.session_id.as_str()) {
        return Err(Refusal::prepare(
            "session_id_mismatch",
            format!(
                "{} holds session {}, but Claude Code finds a session by its file name \
                 (`{}.jsonl`)",
                view::source_text(&session.requested),
                transcript.session_id,
                transcript.session_id
            ),
        ));
    }
    Ok(transcript)
}
