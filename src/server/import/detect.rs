//! `externalAgentConfig/detect`: the recent Claude Code sessions a thread could continue.
//!
//! As Codex: with `includeHome`, one `SESSIONS` item listing the transcripts under the
//! Claude projects directory that are recent enough (`maxSessionAgeDays`, default 30), whose
//! working directory still exists, newest first, at most `maxSessions` (default 50). Also
//! left out: a session some thread continues already, and a file not named after the
//! session it holds (Claude Code could not resume it). Nothing else is detected: the other
//! item types migrate Codex's own configuration.

use std::path::{Path, PathBuf};

use super::super::state::{Reply, Server, now_ms, to_value};
use super::transcript::{self, Transcript};
use super::{SESSIONS, claude_provider, projects_dir};
use crate::jsonrpc::ErrorObject;
use crate::protocol::*;

const DEFAULT_MAX_AGE_DAYS: u32 = 30;
const DEFAULT_MAX_SESSIONS: u32 = 50;
const DAY_MS: i64 = 86_400_000;

impl Server {
    pub(super) fn detect_sessions(&self, p: &ExternalAgentConfigDetectParams) -> Reply {
        let mut items = Vec::new();
        let projects = claude_provider(&self.config).ok().and_then(projects_dir);
        if let (true, Some(projects)) = (p.include_home, projects) {
            let sessions = self.recent_sessions(&projects, p)?;
            if !sessions.is_empty() {
                items.push(ExternalAgentConfigMigrationItem {
                    item_type: SESSIONS,
                    description: format!("Migrate recent sessions from {}", projects.display()),
                    cwd: None,
                    details: Some(MigrationDetails {
                        sessions,
                        ..MigrationDetails::default()
                    }),
                });
            }
        }
        to_value(&ExternalAgentConfigDetectResponse {
            items,
            connectors: Vec::new(),
        })
    }

    fn recent_sessions(
        &self,
        projects: &Path,
        p: &ExternalAgentConfigDetectParams,
    ) -> Result<Vec<SessionMigration>, ErrorObject> {
        let max_age_days = p.max_session_age_days.unwrap_or(DEFAULT_MAX_AGE_DAYS);
        let oldest_ms = now_ms().saturating_sub(i64::from(max_age_days).saturating_mul(DAY_MS));
        let mut found: Vec<(i64, PathBuf, Transcript)> = Vec::new();
        for path in transcript_files(projects) {
            let Some(transcript) = read_session(&path) else {
                continue;
            };
            let Some(latest_ms) = transcript.latest_ms.filter(|ms| *ms >= oldest_ms) else {
                continue;
            };
            let continued = self
                .store
                .threads_with_backend_session(&transcript.session_id)
                .map_err(ErrorObject::internal)?;
            if continued.is_empty() && Path::new(&transcript.cwd).is_dir() {
                found.push((latest_ms, path, transcript));
            }
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let max_sessions = p.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS);
        found.truncate(usize::try_from(max_sessions).unwrap_or(usize::MAX));
        Ok(found
            .into_iter()
            .map(|(_, path, transcript)| SessionMigration {
                path: path.display().to_string(),
                cwd: transcript.cwd,
                title: transcript.title,
            })
            .collect())
    }
}

/// The `*.jsonl` files one directory below `projects` (none when it cannot be read).
fn transcript_files(projects: &Path) -> Vec<PathBuf> {
    let entries = |dir: &Path| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect::<Vec<_>>()
    };
    entries(projects)
        .into_iter()
        .filter(|dir| dir.is_dir())
        .flat_map(|dir| entries(&dir))
        .filter(|file| file.extension().is_some_and(|ext| ext == "jsonl") && file.is_file())
        .collect()
}

/// The transcript at `path` when it holds the session it is named after.
fn read_session(path: &Path) -> Option<Transcript> {
    let file = std::fs::File::open(path).ok()?;
    let transcript = transcript::read(std::io::BufReader::new(file)).ok()?;
    let stem = path.file_stem()?.to_str()?;
    (stem == transcript.session_id).then_some(transcript)
}
