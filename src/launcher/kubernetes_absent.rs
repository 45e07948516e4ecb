//! The Kubernetes launcher in an executable built without it (the cargo feature
//! `kubernetes` off, the default): the configuration refuses `kind = "kubernetes"`, and a turn
//! whose `engine.json` names Kubernetes (placed by a build that had it) is reported as
//! unreachable, never decided: recovery leaves it, and stopping it fails with this reason.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::{EngineRecord, FinalState, JobState};
use crate::config::KubernetesConfig;
use crate::runner::control::{ControlReply, ControlRequest};

/// Why nothing here can reach Kubernetes.
const ABSENT: &str = "this agent-host was built without the Kubernetes launcher \
                      (cargo feature `kubernetes`)";

fn absent() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, ABSENT)
}

/// Refuses: there is no Kubernetes client in this build.
pub fn launch(
    _config: &KubernetesConfig,
    _turn_dir: &Path,
    _env: &BTreeMap<String, String>,
) -> io::Result<()> {
    Err(absent())
}

/// Refuses: there is no Kubernetes client in this build.
pub fn stop(_engine: &EngineRecord, _timeout: Duration) -> io::Result<FinalState> {
    Err(absent())
}

/// Why a control request has no answer (as the launcher's own).
#[derive(Debug)]
pub enum ControlError {
    /// Never sent: the caller may use the control inbox.
    NotSent(io::Error),
    /// Kept for the launcher's match; never made here.
    #[allow(dead_code)]
    NoAnswer(io::Error),
}

/// Never sent: the request goes through the control inbox instead.
pub fn control(
    _engine: &EngineRecord,
    _turn_dir: &Path,
    _request: &ControlRequest,
) -> Result<ControlReply, ControlError> {
    Err(ControlError::NotSent(absent()))
}

/// Recovery's view of Kubernetes: nothing can be asked, so nothing is decided.
pub struct Census;

impl Census {
    /// The only one there is.
    pub fn from_env() -> Census {
        Census
    }

    /// Unknown: this build cannot ask the API.
    pub fn state_of(&mut self, _engine: &EngineRecord) -> JobState {
        JobState::Unknown(ABSENT.to_owned())
    }
}
