//! `[launcher]`: where each turn's runner runs (`docs/configuration.md`, "Launcher").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How long a launcher waits by default for a placed runner to report ready.
pub const DEFAULT_LAUNCHER_READY_MS: u64 = 60_000;

/// Where turns' runners run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LauncherKind {
    /// A detached process on this machine (the default).
    #[default]
    Local,
    /// A Slurm batch job per turn (`sbatch`), the runner its main process.
    Slurm,
}

impl LauncherKind {
    /// The name used in the configuration and in the records.
    pub fn as_str(self) -> &'static str {
        match self {
            LauncherKind::Local => "local",
            LauncherKind::Slurm => "slurm",
        }
    }
}

/// `[launcher]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct LauncherConfig {
    /// The launcher of every provider not named in `providers`.
    pub kind: LauncherKind,
    /// Per-provider override: provider name → launcher.
    pub providers: BTreeMap<String, LauncherKind>,
    /// `[launcher.slurm]`.
    pub slurm: SlurmConfig,
}

impl LauncherConfig {
    /// The launcher of the provider named `provider`.
    pub fn kind_for(&self, provider: &str) -> LauncherKind {
        self.providers.get(provider).copied().unwrap_or(self.kind)
    }
}

/// `[launcher.slurm]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct SlurmConfig {
    /// Extra `sbatch` arguments (partition, account, time limit, ...), before ours.
    pub sbatch_args: Vec<String>,
    /// The `agent-host` executable on the compute nodes; empty: this server's own.
    pub runner_exe: String,
    /// How long `turn/start` waits for the job's runner to report ready, in milliseconds.
    pub ready_timeout_ms: u64,
}

impl Default for SlurmConfig {
    fn default() -> SlurmConfig {
        SlurmConfig {
            sbatch_args: Vec::new(),
            runner_exe: String::new(),
            ready_timeout_ms: DEFAULT_LAUNCHER_READY_MS,
        }
    }
}
