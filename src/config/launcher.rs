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
    /// A Kubernetes Job per turn, the runner its pod's main process.
    Kubernetes,
}

impl LauncherKind {
    /// The name used in the configuration and in the records.
    pub fn as_str(self) -> &'static str {
        match self {
            LauncherKind::Local => "local",
            LauncherKind::Slurm => "slurm",
            LauncherKind::Kubernetes => "kubernetes",
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
    /// `[launcher.kubernetes]`.
    pub kubernetes: KubernetesConfig,
}

impl LauncherConfig {
    /// The launcher of the provider named `provider`.
    pub fn kind_for(&self, provider: &str) -> LauncherKind {
        self.providers.get(provider).copied().unwrap_or(self.kind)
    }

    /// True when some provider's turns go to Kubernetes.
    pub fn uses_kubernetes(&self) -> bool {
        self.kind == LauncherKind::Kubernetes
            || self
                .providers
                .values()
                .any(|kind| *kind == LauncherKind::Kubernetes)
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

/// `[launcher.kubernetes]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct KubernetesConfig {
    /// The namespace of the turns' Jobs; empty: the kubeconfig's (or the pod's) namespace.
    pub namespace: String,
    /// The container image that holds `agent-host` and the backend CLIs (required).
    pub image: String,
    /// The ReadWriteMany PersistentVolumeClaim holding the state directory (required).
    pub claim: String,
    /// Where the claim is mounted, on this machine and in the pod alike: a directory that
    /// holds the state directory (required).
    pub mount_path: String,
    /// The `agent-host` executable in the image.
    pub runner_exe: String,
    /// The Job's `activeDeadlineSeconds`: the longest a turn may run.
    pub active_deadline_seconds: i64,
    /// The Job's `ttlSecondsAfterFinished`: how long an ended Job stays to be asked about.
    pub ttl_seconds_after_finished: i32,
    /// The pod's `terminationGracePeriodSeconds`: how long the runner has to end the turn
    /// after SIGTERM before the kubelet kills it.
    pub termination_grace_seconds: i64,
    /// How long `turn/start` waits for the pod's runner to report ready, in milliseconds.
    pub ready_timeout_ms: u64,
}

impl Default for KubernetesConfig {
    fn default() -> KubernetesConfig {
        KubernetesConfig {
            namespace: String::new(),
            image: String::new(),
            claim: String::new(),
            mount_path: String::new(),
            runner_exe: "agent-host".to_owned(),
            active_deadline_seconds: 86_400,
            ttl_seconds_after_finished: 3_600,
            termination_grace_seconds: 30,
            ready_timeout_ms: DEFAULT_LAUNCHER_READY_MS,
        }
    }
}
