//! The `kubernetes` launcher: one Job per turn whose pod's main process is the runner
//! (`agent-host runner --engine kubernetes`), created through the API server with the `kube`
//! crate under the turn's deterministic name (a second create is a reattach: the API answers
//! `AlreadyExists` and the Job there is taken). The turn's files live on a ReadWriteMany
//! volume mounted at the same path here and in the pod, so the runner contract is unchanged:
//! the server follows `events.jsonl` and reads `exit.json`. It controls the turn (interrupt,
//! steer, approvals) by running `agent-host runner ctl` in the runner's pod through
//! `pods/exec`, which hands the request to the runner over its control socket there; when
//! that fails, through the control inbox on the volume ([`control`]).
//!
//! The Job runs once (`backoffLimit: 0`, `restartPolicy: Never`), within a deadline
//! (`activeDeadlineSeconds`), and is removed some time after its end
//! (`ttlSecondsAfterFinished`). Stopping a turn whose runner does not answer deletes the Job
//! with a grace period (the kubelet sends the runner SIGTERM, the graceful end, then SIGKILL
//! after the grace) and watches until it is gone. How a Job ended without the runner's record
//! comes from the Job's conditions and its pod's container state (`OOMKilled`, exit code,
//! eviction).
//!
//! The API is asynchronous; the launcher's callers are not (they run on blocking threads), so
//! each call runs on a runtime of its own on a thread of its own ([`block_on`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, PersistentVolumeClaimVolumeSource, Pod,
    PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::wait::await_condition;

use super::{EngineRecord, FinalKind, FinalState, JobState, engine_record};
use crate::atomic_file;
use crate::config::{KubernetesConfig, LauncherKind};
use crate::runner::control::{ControlReply, ControlRequest};
use crate::runner::launch::read_process_record;
use crate::runner::{
    ENGINE_JOB_ENV as JOB_NAME_ENV, ENGINE_NODE_ENV as NODE_NAME_ENV, PROVIDER_ENV_ENV,
};

/// The label every turn's Job carries (its value: the turn id), by which they are listed.
pub const TURN_LABEL: &str = "agent-host/turn";
/// The label Kubernetes puts on a Job's pods.
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The runner's container in the pod.
const CONTAINER: &str = "runner";
/// How often the launch looks for the runner's process record, and the Job's state.
const READY_POLL: Duration = Duration::from_millis(20);
const STATE_POLL: Duration = Duration::from_millis(500);
/// The grace of a deletion when `engine.json` names none (Kubernetes' own default).
const DEFAULT_GRACE_SECONDS: u32 = 30;
/// How long one API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a control request through `pods/exec` may take, its answer included.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request `runner ctl` is given on its command line; a longer one (a large
/// steer) goes through the control inbox.
const MAX_CTL_REQUEST: usize = 64 * 1024;

/// The Kubernetes launcher: a client and the namespace of the turns' Jobs.
#[derive(Clone)]
pub struct Kubernetes {
    client: kube::Client,
    namespace: String,
}

impl Kubernetes {
    /// A launcher on `client`; an empty `namespace` is the client's default one.
    pub fn new(client: kube::Client, namespace: &str) -> Kubernetes {
        let namespace = if namespace.is_empty() {
            client.default_namespace().to_owned()
        } else {
            namespace.to_owned()
        };
        Kubernetes { client, namespace }
    }

    /// A launcher on the client the environment configures (kubeconfig, or the pod's service
    /// account inside a cluster).
    pub async fn from_env(namespace: &str) -> io::Result<Kubernetes> {
        let client = kube::Client::try_default()
            .await
            .map_err(|err| io::Error::other(format!("no Kubernetes client: {err}")))?;
        Ok(Kubernetes::new(client, namespace))
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates the Job, or takes the one of that name already there (a second submit of the
    /// same turn); returns its uid.
    pub async fn submit(&self, job: &Job) -> io::Result<String> {
        let name = job.metadata.name.clone().unwrap_or_default();
        let job = match self.jobs().create(&PostParams::default(), job).await {
            Ok(created) => created,
            Err(kube::Error::Api(status)) if status.is_already_exists() => {
                self.jobs().get(&name).await.map_err(api_error)?
            }
            Err(err) => return Err(api_error(err)),
        };
        job.metadata
            .uid
            .ok_or_else(|| io::Error::other(format!("the Job {name} has no uid")))
    }

    /// Where the Job named `name` is.
    pub async fn state(&self, name: &str) -> JobState {
        match self.jobs().get_opt(name).await {
            Ok(Some(job)) => self.classify(&job).await,
            // Deleted (by an operator, or by its TTL long after its end): nothing of it is left
            // to tell how it ended.
            Ok(None) => JobState::Ended(FinalState::without_status("NotFound", FinalKind::Lost)),
            Err(err) => JobState::Unknown(err.to_string()),
        }
    }

    /// The Job's state; for a failed one, its pod tells why.
    async fn classify(&self, job: &Job) -> JobState {
        match outcome(job) {
            Outcome::Active(state) => JobState::Active(state.to_owned()),
            Outcome::Complete => JobState::Ended(FinalState {
                state: "Complete".into(),
                kind: FinalKind::Failed,
                exit_code: Some(0),
                signal: None,
            }),
            Outcome::Failed(reason) => {
                let name = job.metadata.name.clone().unwrap_or_default();
                let selector = format!("{JOB_NAME_LABEL}={name}");
                match self
                    .pods()
                    .list(&ListParams::default().labels(&selector))
                    .await
                {
                    Ok(pods) => JobState::Ended(final_state(&reason, &pods.items)),
                    Err(err) => JobState::Unknown(err.to_string()),
                }
            }
        }
    }

    /// Deletes the Job with a grace period for its pod (SIGTERM to the runner, SIGKILL after
    /// the grace); the Job goes once its pod is gone. A Job already gone is no error.
    pub async fn delete(&self, name: &str, grace_seconds: u32) -> io::Result<()> {
        let params = DeleteParams {
            grace_period_seconds: Some(grace_seconds),
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..DeleteParams::default()
        };
        match self.jobs().delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
            Err(err) => Err(api_error(err)),
        }
    }

    /// Watches the Job until it ended (then its final state) or is gone (`None`).
    pub async fn wait_ended(&self, name: &str) -> io::Result<Option<FinalState>> {
        let ended =
            |job: Option<&Job>| job.is_none_or(|job| !matches!(outcome(job), Outcome::Active(_)));
        let job = await_condition(self.jobs(), name, ended)
            .await
            .map_err(|err| io::Error::other(format!("watching the Job {name}: {err}")))?;
        match job {
            None => Ok(None),
            Some(job) => match self.classify(&job).await {
                JobState::Ended(end) => Ok(Some(end)),
                JobState::Active(state) | JobState::Unknown(state) => Err(io::Error::other(
                    format!("the Job {name} ended but its state is unclear: {state}"),
                )),
            },
        }
    }

    /// Deletes the Job with the grace period and watches until it is gone: the turn was
    /// cancelled. A Job that had already ended keeps its own final state.
    pub async fn cancel_and_wait(&self, name: &str, grace_seconds: u32) -> io::Result<FinalState> {
        if let JobState::Ended(end) = self.state(name).await
            && end.state != "NotFound"
        {
            return Ok(end);
        }
        self.delete(name, grace_seconds).await?;
        let gone = |job: Option<&Job>| job.is_none();
        await_condition(self.jobs(), name, gone)
            .await
            .map_err(|err| io::Error::other(format!("watching the Job {name}: {err}")))?;
        Ok(FinalState::without_status("Deleted", FinalKind::Cancelled))
    }

    /// The pod of the Job named `name` that runs (its runner's), by the Job's label.
    pub async fn running_pod(&self, name: &str) -> io::Result<String> {
        let selector = format!("{JOB_NAME_LABEL}={name}");
        let pods = self
            .pods()
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(api_error)?;
        pods.items
            .into_iter()
            .find(|pod| {
                pod.metadata.deletion_timestamp.is_none()
                    && pod
                        .status
                        .as_ref()
                        .and_then(|status| status.phase.as_deref())
                        == Some("Running")
            })
            .and_then(|pod| pod.metadata.name)
            .ok_or_else(|| io::Error::other(format!("the Job {name} has no running pod")))
    }

    /// Runs `argv` in the runner's container of `pod` through `pods/exec` (stdout and stderr,
    /// no stdin) and returns what it printed on each; `started` is set once the exec's stream
    /// is open (the command runs).
    pub async fn exec(
        &self,
        pod: &str,
        argv: Vec<String>,
        started: &std::sync::atomic::AtomicBool,
    ) -> io::Result<(String, String)> {
        use tokio::io::AsyncReadExt;
        let params = AttachParams::default()
            .container(CONTAINER)
            .stdin(false)
            .stdout(true)
            .stderr(true);
        let mut attached = self
            .pods()
            .exec(pod, argv, &params)
            .await
            .map_err(api_error)?;
        started.store(true, std::sync::atomic::Ordering::SeqCst);
        let (Some(mut stdout), Some(mut stderr)) = (attached.stdout(), attached.stderr()) else {
            return Err(io::Error::other("pods/exec gave no stdout or stderr"));
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (read_out, read_err) =
            tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        read_out?;
        read_err?;
        attached
            .join()
            .await
            .map_err(|err| io::Error::other(format!("pods/exec: {err}")))?;
        Ok((
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        ))
    }

    /// The Jobs of agent-host's turns in the namespace (listed by their label, whatever the
    /// turn), by name, with their states.
    pub async fn turn_jobs(&self) -> io::Result<BTreeMap<String, JobState>> {
        let jobs = self
            .jobs()
            .list(&ListParams::default().labels(TURN_LABEL))
            .await
            .map_err(api_error)?;
        let mut states = BTreeMap::new();
        for job in jobs.items {
            let Some(name) = job.metadata.name.clone() else {
                continue;
            };
            states.insert(name, self.classify(&job).await);
        }
        Ok(states)
    }
}

/// What a Job's status says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Pending, running, or being deleted.
    Active(&'static str),
    Complete,
    /// Failed, with the condition's reason (`BackoffLimitExceeded`, `DeadlineExceeded`, ...).
    Failed(String),
}

fn outcome(job: &Job) -> Outcome {
    let conditions = job
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref());
    for condition in conditions.into_iter().flatten() {
        if condition.status != "True" {
            continue;
        }
        match condition.type_.as_str() {
            "Complete" => return Outcome::Complete,
            "Failed" => return Outcome::Failed(condition.reason.clone().unwrap_or_default()),
            _ => {}
        }
    }
    if job.metadata.deletion_timestamp.is_some() {
        Outcome::Active("Terminating")
    } else {
        Outcome::Active("Active")
    }
}

/// How a failed Job ended, from its reason and its pod's runner container.
fn final_state(reason: &str, pods: &[Pod]) -> FinalState {
    let pod_status = pods.iter().find_map(|pod| pod.status.as_ref());
    let terminated = pod_status
        .and_then(|status| status.container_statuses.as_ref())
        .and_then(|statuses| statuses.iter().find(|s| s.name == CONTAINER))
        .and_then(|status| status.state.as_ref())
        .and_then(|state| state.terminated.as_ref());
    let evicted = pod_status.is_some_and(|status| {
        status.reason.as_deref() == Some("Evicted")
            || status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "DisruptionTarget" && c.status == "True")
    });
    let (exit_code, signal) = match terminated {
        // A container killed by a signal reports 128 + the signal.
        Some(t) if t.exit_code > 128 => (None, Some(t.signal.unwrap_or(t.exit_code - 128))),
        Some(t) => (Some(t.exit_code), t.signal.filter(|s| *s != 0)),
        None => (None, None),
    };
    let container_reason = terminated
        .and_then(|t| t.reason.clone())
        .unwrap_or_default();
    let (state, kind) = if container_reason == "OOMKilled" {
        ("OOMKilled".to_owned(), FinalKind::OutOfMemory)
    } else if evicted || reason == "PodFailurePolicy" && terminated.is_none() {
        (format!("{reason}/Evicted"), FinalKind::Lost)
    } else if signal.is_some() && reason == "BackoffLimitExceeded" {
        // The runner killed by a signal it could not take (SIGKILL): lost, as a local
        // runner that dies is.
        (reason.to_owned(), FinalKind::Lost)
    } else {
        (reason.to_owned(), FinalKind::Failed)
    };
    FinalState {
        state,
        kind,
        exit_code,
        signal,
    }
}

/// The Job of a turn: its runner in the foreground, the state volume mounted at the same path.
pub fn job_manifest(
    config: &KubernetesConfig,
    turn_id: &str,
    turn_dir: &Path,
    env: &BTreeMap<String, String>,
) -> io::Result<Job> {
    let name = super::job_name(turn_id);
    if !turn_dir.starts_with(&config.mount_path) {
        return Err(io::Error::other(format!(
            "the turn directory {} is not under [launcher.kubernetes] mount_path {}",
            turn_dir.display(),
            config.mount_path
        )));
    }
    let labels = BTreeMap::from([(TURN_LABEL.to_owned(), turn_id.to_owned())]);
    let container = runner_container(config, &name, turn_dir, env)?;
    let pod = PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".to_owned()),
        termination_grace_period_seconds: Some(config.termination_grace_seconds),
        volumes: Some(vec![Volume {
            name: "state".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: config.claim.clone(),
                read_only: None,
            }),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    };
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(config.active_deadline_seconds),
            ttl_seconds_after_finished: Some(config.ttl_seconds_after_finished),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// The pod's one container: the runner in the foreground, the state volume mounted.
fn runner_container(
    config: &KubernetesConfig,
    name: &str,
    turn_dir: &Path,
    env: &BTreeMap<String, String>,
) -> io::Result<Container> {
    let mut vars = vec![
        EnvVar {
            name: JOB_NAME_ENV.to_owned(),
            value: Some(name.to_owned()),
            value_from: None,
        },
        EnvVar {
            name: NODE_NAME_ENV.to_owned(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: "spec.nodeName".to_owned(),
                }),
                ..EnvVarSource::default()
            }),
        },
    ];
    if !env.is_empty() {
        vars.push(EnvVar {
            name: PROVIDER_ENV_ENV.to_owned(),
            value: Some(serde_json::to_string(env).map_err(io::Error::other)?),
            value_from: None,
        });
    }
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(config.image.clone()),
        command: Some(vec![
            config.runner_exe.clone(),
            "runner".to_owned(),
            "--turn-dir".to_owned(),
            turn_dir.to_string_lossy().into_owned(),
            "--engine".to_owned(),
            "kubernetes".to_owned(),
        ]),
        working_dir: Some(turn_dir.to_string_lossy().into_owned()),
        env: Some(vars),
        volume_mounts: Some(vec![VolumeMount {
            name: "state".to_owned(),
            mount_path: config.mount_path.clone(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    Ok(container)
}

/// Creates the Job of `turn_dir` (or reattaches to it), records it in `engine.json`, and
/// waits until the runner is ready.
pub fn launch(
    config: &KubernetesConfig,
    turn_dir: &Path,
    env: &BTreeMap<String, String>,
) -> io::Result<()> {
    let turn_dir = std::path::absolute(turn_dir)?;
    let spec = crate::spec::read(&turn_dir)?;
    let job = job_manifest(config, &spec.turn_id, &turn_dir, env)?;
    let name = super::job_name(&spec.turn_id);
    let engine_file = turn_dir.join(super::ENGINE_FILE);
    let namespace = config.namespace.clone();
    let grace_seconds = u32::try_from(config.termination_grace_seconds).unwrap_or(u32::MAX);
    let runner_exe = config.runner_exe.clone();
    let (kube, uid) = block_on(async move {
        let kube = Kubernetes::from_env(&namespace).await?;
        // Before the create: a server that dies during it leaves the Job's name for recovery.
        let mut record = engine_record(LauncherKind::Kubernetes, "", &name);
        record.namespace = Some(kube.namespace().to_owned());
        record.grace_seconds = Some(grace_seconds);
        record.runner_exe = Some(runner_exe);
        atomic_file::write_json_atomic(&engine_file, &record)?;
        let uid = kube.submit(&job).await?;
        record.job_id = uid.clone();
        atomic_file::write_json_atomic(&engine_file, &record)?;
        Ok::<_, io::Error>((kube, uid))
    })??;
    let ready_timeout = Duration::from_millis(config.ready_timeout_ms);
    wait_ready(
        &kube,
        &turn_dir,
        &super::job_name(&spec.turn_id),
        &uid,
        ready_timeout,
    )
}

/// Polls until the runner wrote its process record; a Job that ends first, or whose runner
/// is not ready within the timeout (then deleted), is an error.
fn wait_ready(
    kube: &Kubernetes,
    turn_dir: &Path,
    name: &str,
    uid: &str,
    timeout: Duration,
) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut next_state = Instant::now() + STATE_POLL;
    loop {
        if read_process_record(turn_dir).is_some() {
            return Ok(());
        }
        if Instant::now() >= next_state {
            next_state = Instant::now() + STATE_POLL;
            let (kube, job) = (kube.clone(), name.to_owned());
            if let JobState::Ended(end) = block_on(async move { kube.state(&job).await })? {
                if read_process_record(turn_dir).is_some() {
                    return Ok(());
                }
                return Err(io::Error::other(format!(
                    "the Kubernetes Job {name} ({uid}) ended ({}) before its runner was ready",
                    end.state
                )));
            }
        }
        if Instant::now() >= deadline {
            let (kube, job) = (kube.clone(), name.to_owned());
            let _ = block_on(async move { kube.delete(&job, 0).await });
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the runner of Kubernetes Job {name} was not ready within {timeout:?}; the \
                     Job was deleted"
                ),
            ));
        }
        std::thread::sleep(READY_POLL);
    }
}

/// The state of the Job of `engine.json`.
pub fn state_of(engine: &EngineRecord) -> JobState {
    Census::from_env().ask(engine)
}

/// What recovery learns from the API server: the turns' Jobs of each namespace, listed by
/// label once ([`Kubernetes::turn_jobs`]) and then looked up, so that a restarted server
/// recovering many turns makes one list request per namespace, not one request per turn. A
/// Job the list does not hold is asked by name: it may have been created after the list, or
/// be gone.
pub struct Census {
    /// The client; `None`: the environment's, made for each call.
    client: Option<kube::Client>,
    /// Per namespace (`""`: the client's default), the listed Jobs or why there are none.
    listed: BTreeMap<String, Result<BTreeMap<String, JobState>, String>>,
}

impl Census {
    /// A census through the client the environment configures.
    pub fn from_env() -> Census {
        Census {
            client: None,
            listed: BTreeMap::new(),
        }
    }

    /// A census through `client`.
    pub fn with_client(client: kube::Client) -> Census {
        Census {
            client: Some(client),
            listed: BTreeMap::new(),
        }
    }

    /// The state of the Job of `engine.json`, from the namespace's list (made on first use).
    pub fn state_of(&mut self, engine: &EngineRecord) -> JobState {
        let namespace = engine.namespace.clone().unwrap_or_default();
        if !self.listed.contains_key(&namespace) {
            let listed = self
                .call(&namespace, |kube| async move { kube.turn_jobs().await })
                .map_err(|err| err.to_string());
            self.listed.insert(namespace.clone(), listed);
        }
        match self.listed.get(&namespace) {
            Some(Ok(jobs)) => match jobs.get(&engine.job_name) {
                Some(state) => state.clone(),
                None => self.ask(engine),
            },
            Some(Err(err)) => JobState::Unknown(err.clone()),
            None => JobState::Unknown("no list of the namespace's Jobs".into()),
        }
    }

    /// The state of the Job of `engine.json`, asked by its name.
    pub fn ask(&self, engine: &EngineRecord) -> JobState {
        let namespace = engine.namespace.clone().unwrap_or_default();
        let name = engine.job_name.clone();
        self.call(
            &namespace,
            |kube| async move { Ok(kube.state(&name).await) },
        )
        .unwrap_or_else(|err| JobState::Unknown(err.to_string()))
    }

    /// Runs `request` on a client of `namespace`, bounded by [`CALL_TIMEOUT`].
    fn call<T, F, R>(&self, namespace: &str, request: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Kubernetes) -> R + Send + 'static,
        R: Future<Output = io::Result<T>> + Send,
    {
        let client = self.client.clone();
        let namespace = namespace.to_owned();
        block_on(async move {
            let kube = match client {
                Some(client) => Kubernetes::new(client, &namespace),
                None => Kubernetes::from_env(&namespace).await?,
            };
            within(
                CALL_TIMEOUT,
                "no answer from the Kubernetes API",
                request(kube),
            )
            .await
        })?
    }
}

/// Stops the Job of `engine.json` (deleted with its recorded grace period) and returns how
/// it ended.
pub fn stop(engine: &EngineRecord, timeout: Duration) -> io::Result<FinalState> {
    let namespace = engine.namespace.clone().unwrap_or_default();
    let grace_seconds = engine.grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    let name = engine.job_name.clone();
    block_on(async move {
        let kube = Kubernetes::from_env(&namespace).await?;
        let gone = kube.cancel_and_wait(&name, grace_seconds);
        within(
            timeout,
            &format!("the Kubernetes Job {name} was not gone"),
            gone,
        )
        .await
    })?
}

/// Why a control request through `pods/exec` has no answer.
#[derive(Debug)]
pub enum ControlError {
    /// The command never started in the pod (no running pod, the exec refused or not made,
    /// the request too long for a command line): the runner did not get the request, which
    /// may be sent another way.
    NotSent(io::Error),
    /// `runner ctl` started but gave no answer: the runner may have taken the request, so it
    /// is not sent again (a steer would be given twice).
    NoAnswer(io::Error),
}

/// Sends `request` to the runner of the Job of `engine.json`: `runner ctl` run in its pod
/// through `pods/exec`, which hands it to the runner over its control socket there; returns
/// the runner's answer as `runner ctl` printed it.
pub fn control(
    engine: &EngineRecord,
    turn_dir: &Path,
    request: &ControlRequest,
) -> Result<ControlReply, ControlError> {
    let json = serde_json::to_string(request)
        .map_err(|err| ControlError::NotSent(io::Error::other(err)))?;
    if json.len() > MAX_CTL_REQUEST {
        return Err(ControlError::NotSent(io::Error::other(format!(
            "the request ({} bytes) is too long for a command line",
            json.len()
        ))));
    }
    let argv = vec![
        engine
            .runner_exe
            .clone()
            .unwrap_or_else(|| KubernetesConfig::default().runner_exe),
        "runner".to_owned(),
        "ctl".to_owned(),
        "--turn-dir".to_owned(),
        turn_dir.to_string_lossy().into_owned(),
        "--request".to_owned(),
        json,
    ];
    let namespace = engine.namespace.clone().unwrap_or_default();
    let name = engine.job_name.clone();
    let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let in_exec = std::sync::Arc::clone(&started);
    let exchanged = block_on(async move {
        let exchange = async {
            let kube = Kubernetes::from_env(&namespace).await?;
            let pod = kube.running_pod(&name).await?;
            kube.exec(&pod, argv, &in_exec).await
        };
        within(CONTROL_TIMEOUT, "no answer through pods/exec", exchange).await
    })
    .and_then(|exchanged| exchanged);
    let not_answered = |err| match started.load(std::sync::atomic::Ordering::SeqCst) {
        true => ControlError::NoAnswer(err),
        false => ControlError::NotSent(err),
    };
    let (stdout, stderr) = exchanged.map_err(not_answered)?;
    stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<ControlReply>(line).ok())
        .ok_or_else(|| {
            ControlError::NoAnswer(io::Error::other(format!(
                "runner ctl printed no answer (stderr: {})",
                stderr.trim()
            )))
        })
}

/// `future`'s result, or a `TimedOut` error ("`what` within `limit`") when it takes longer.
async fn within<T>(
    limit: Duration,
    what: &str,
    future: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("{what} within {limit:?}")))?
}

/// Runs `future` to its end on a runtime of its own, on a thread of its own (the callers may
/// be on a runtime's thread, where another runtime cannot block). Bounds are the future's own.
pub fn block_on<F>(future: F) -> io::Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let thread = std::thread::Builder::new()
        .name("kubernetes".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok::<_, io::Error>(runtime.block_on(future))
        })?;
    thread
        .join()
        .map_err(|_| io::Error::other("the Kubernetes client thread panicked"))?
}

fn api_error(err: kube::Error) -> io::Error {
    io::Error::other(format!("Kubernetes API: {err}"))
}

#[cfg(test)]
mod tests;
