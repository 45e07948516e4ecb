//! The Kubernetes launcher against a mocked API server (`tower-test`): every request the
//! launcher makes is checked (method, path, query, body) and answered as the API server
//! would; a request nobody expected fails the test, and so does one that is missing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle};

use super::*;
use crate::events::{EndReason, InterruptReason};

const TURN: &str = "01a2479e-f587-720e-a303-cf663412c043";
const NAME: &str = "agent-host-01a2479e-f587-720e-a303-cf663412c043";
const JOBS: &str = "/apis/batch/v1/namespaces/agents/jobs";
/// Every API call of one test is bounded.
const TEST_LIMIT: Duration = Duration::from_secs(20);

type ApiHandle = Handle<Request<Body>, Response<Body>>;

fn mocked() -> (Kubernetes, ApiHandle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (
        Kubernetes::new(kube::Client::new(service, "agents"), ""),
        handle,
    )
}

fn settings() -> KubernetesConfig {
    KubernetesConfig {
        image: "registry.example/agent-host:1".into(),
        claim: "agent-state".into(),
        mount_path: "/srv/agent-host".into(),
        ..KubernetesConfig::default()
    }
}

/// What the mocked API server expects next and how it answers.
struct Expect {
    method: &'static str,
    path: String,
    /// Fragments the (percent-decoded) query must hold.
    query: Vec<String>,
    status: StatusCode,
    answer: Vec<u8>,
}

impl Expect {
    fn new(method: &'static str, path: &str, answer: &impl serde::Serialize) -> Expect {
        Expect {
            method,
            path: path.to_owned(),
            query: Vec::new(),
            status: StatusCode::OK,
            answer: serde_json::to_vec(answer).unwrap(),
        }
    }

    fn query(mut self, query: &[&str]) -> Expect {
        self.query = query
            .iter()
            .map(|fragment| (*fragment).to_owned())
            .collect();
        self
    }

    fn status(mut self, status: StatusCode) -> Expect {
        self.status = status;
        self
    }

    /// A watch stream: one JSON event a line.
    fn stream(mut self, events: &[Value]) -> Expect {
        self.answer = events
            .iter()
            .flat_map(|event| {
                let mut line = serde_json::to_vec(event).unwrap();
                line.push(b'\n');
                line
            })
            .collect();
        self
    }
}

/// Answers the requests in order, checking each; returns the request bodies.
async fn serve(mut handle: ApiHandle, script: Vec<Expect>) -> Vec<Value> {
    let mut bodies = Vec::new();
    for expect in script {
        let (request, respond) = tokio::time::timeout(TEST_LIMIT, handle.next_request())
            .await
            .unwrap_or_else(|_| {
                panic!("no {} {} within {TEST_LIMIT:?}", expect.method, expect.path)
            })
            .unwrap_or_else(|| {
                panic!(
                    "the client went away before {} {}",
                    expect.method, expect.path
                )
            });
        let query = percent_decode(request.uri().query().unwrap_or(""));
        assert_eq!(
            request.method().as_str(),
            expect.method,
            "{}",
            request.uri()
        );
        assert_eq!(request.uri().path(), expect.path, "{}", request.uri());
        for fragment in &expect.query {
            assert!(
                query.contains(fragment.as_str()),
                "{fragment} not in {query}"
            );
        }
        let bytes = http_body_bytes(request.into_body()).await;
        bodies.push(serde_json::from_slice(&bytes).unwrap_or(Value::Null));
        let response = Response::builder()
            .status(expect.status)
            .body(Body::from(expect.answer))
            .unwrap();
        respond.send_response(response);
    }
    bodies
}

async fn http_body_bytes(body: Body) -> Vec<u8> {
    use http_body_util::BodyExt;
    body.collect().await.unwrap().to_bytes().to_vec()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The client and the mocked server side by side; fails if the server's script is not used
/// up or the client made a request more.
async fn run<T>(script: Vec<Expect>, client: impl AsyncFnOnce(Kubernetes) -> T) -> (T, Vec<Value>) {
    let (kube, handle) = mocked();
    let server = tokio::spawn(serve(handle, script));
    let out = tokio::time::timeout(TEST_LIMIT, client(kube))
        .await
        .expect("the client's calls took too long");
    let bodies = server.await.expect("the mocked API server failed");
    (out, bodies)
}

fn job(uid: &str, conditions: &[(&str, &str)], deleting: bool) -> Job {
    let mut job = job_manifest(
        &settings(),
        TURN,
        Path::new("/srv/agent-host/state/threads/t/turns/u"),
        &BTreeMap::new(),
    )
    .unwrap();
    job.metadata.uid = Some(uid.to_owned());
    job.metadata.resource_version = Some("7".into());
    job.metadata.namespace = Some("agents".into());
    if deleting {
        let at: Time = serde_json::from_value(json!("2026-12-05T19:00:00Z")).unwrap();
        job.metadata.deletion_timestamp = Some(at);
    }
    job.status = Some(JobStatus {
        conditions: Some(
            conditions
                .iter()
                .map(|(type_, reason)| JobCondition {
                    type_: (*type_).to_owned(),
                    status: "True".into(),
                    reason: Some((*reason).to_owned()),
                    ..JobCondition::default()
                })
                .collect(),
        ),
        ..JobStatus::default()
    });
    job
}

fn pod(reason: &str, exit_code: i32) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("{NAME}-x7k2p")),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(PodStatus {
            phase: Some("Failed".into()),
            container_statuses: Some(vec![ContainerStatus {
                name: "runner".into(),
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code,
                        reason: Some(reason.to_owned()),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
    }
}

fn list(kind: &str, api_version: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": "8"},
        "items": items})
}

/// The list of the Jobs named `NAME` (by field selector): `job`.
fn listed_by_name(job: &Job) -> Expect {
    let jobs = list(
        "JobList",
        "batch/v1",
        vec![serde_json::to_value(job).unwrap()],
    );
    Expect::new("GET", JOBS, &jobs).query(&["fieldSelector=metadata.name=agent-host-01a2479e"])
}

fn status(code: u16, reason: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code,
        "reason": reason, "message": reason})
}

#[test]
fn a_turn_is_one_job_that_runs_once_with_its_runner_on_the_shared_volume() {
    let env = BTreeMap::from([("FAKE_SECRET".to_owned(), "s3".to_owned())]);
    let dir = Path::new("/srv/agent-host/state/threads/t/turns/u");
    let manifest =
        serde_json::to_value(job_manifest(&settings(), TURN, dir, &env).unwrap()).unwrap();
    assert_eq!(manifest["metadata"]["name"], NAME);
    assert_eq!(manifest["metadata"]["labels"][TURN_LABEL], TURN);
    let spec = &manifest["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 86_400);
    assert_eq!(spec["ttlSecondsAfterFinished"], 3_600);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "agent-state"
    );
    let container = &pod["containers"][0];
    assert_eq!(
        container["command"],
        json!([
            "agent-host",
            "runner",
            "--turn-dir",
            dir,
            "--engine",
            "kubernetes"
        ])
    );
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/srv/agent-host");
    let vars = container["env"].as_array().unwrap();
    assert!(
        vars.iter()
            .any(|v| v["name"] == PROVIDER_ENV_ENV && v["value"] == "{\"FAKE_SECRET\":\"s3\"}")
    );
    assert!(vars.iter().any(|v| v["name"] == NODE_NAME_ENV
        && v["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"));
    let outside = job_manifest(&settings(), TURN, Path::new("/tmp/turn"), &env).unwrap_err();
    assert!(outside.to_string().contains("mount_path"), "{outside}");
}

#[tokio::test]
async fn a_second_submit_of_a_turn_reattaches_to_its_job() {
    let manifest = job("", &[], false);
    let script = vec![
        Expect::new("POST", JOBS, &job("uid-1", &[], false)).status(StatusCode::CREATED),
        Expect::new("POST", JOBS, &status(409, "AlreadyExists")).status(StatusCode::CONFLICT),
        Expect::new("GET", &format!("{JOBS}/{NAME}"), &job("uid-1", &[], false)),
    ];
    let (uids, bodies) = run(script, async |kube| {
        let first = kube.submit(&manifest).await.unwrap();
        let second = kube.submit(&manifest).await.unwrap();
        (first, second)
    })
    .await;
    assert_eq!(uids, ("uid-1".to_owned(), "uid-1".to_owned()));
    assert_eq!(bodies[0]["metadata"]["name"], NAME);
    assert_eq!(bodies[0]["spec"]["backoffLimit"], 0);
    assert_eq!(bodies[1], bodies[0]);
}

#[tokio::test]
async fn a_job_killed_for_memory_ends_its_turn_failed() {
    let failed = job("uid-1", &[("Failed", "BackoffLimitExceeded")], false);
    let pods = list(
        "PodList",
        "v1",
        vec![serde_json::to_value(pod("OOMKilled", 137)).unwrap()],
    );
    let script = vec![
        Expect::new("GET", &format!("{JOBS}/{NAME}"), &failed),
        Expect::new("GET", "/api/v1/namespaces/agents/pods", &pods)
            .query(&["labelSelector=batch.kubernetes.io/job-name=agent-host-01a2479e"]),
    ];
    let (state, _) = run(script, async |kube| kube.state(NAME).await).await;
    let JobState::Ended(end) = state else {
        panic!("{state:?}")
    };
    assert_eq!(end.kind, FinalKind::OutOfMemory);
    assert_eq!((end.exit_code, end.signal), (None, Some(9)));
    let record = super::super::exit_record_from(&engine(), &end, 3);
    assert_eq!(record.reason, EndReason::RunnerError);
    let message = record.error.map(|e| e.message).unwrap_or_default();
    assert!(
        message.contains("ran out of memory") && message.contains("OOMKilled"),
        "{message}"
    );
}

#[test]
fn a_runner_killed_outright_is_lost_and_an_error_exit_is_a_failure() {
    let killed = final_state("BackoffLimitExceeded", &[pod("Error", 137)]);
    assert_eq!((killed.kind, killed.signal), (FinalKind::Lost, Some(9)));
    let failed = final_state("BackoffLimitExceeded", &[pod("Error", 3)]);
    assert_eq!(
        (failed.kind, failed.exit_code),
        (FinalKind::Failed, Some(3))
    );
    let deadline = final_state("DeadlineExceeded", &[]);
    assert_eq!(deadline.kind, FinalKind::Failed);
}

#[tokio::test]
async fn a_runner_that_does_not_answer_is_stopped_by_deleting_its_job_with_grace() {
    let running = job("uid-1", &[], false);
    let deleting = job("uid-1", &[], true);
    let deleted = json!({"type": "DELETED", "object": serde_json::to_value(&deleting).unwrap()});
    let script = vec![
        Expect::new("GET", &format!("{JOBS}/{NAME}"), &running),
        Expect::new("DELETE", &format!("{JOBS}/{NAME}"), &deleting),
        listed_by_name(&deleting),
        Expect::new("GET", JOBS, &Value::Null)
            .query(&[
                "watch=true",
                "fieldSelector=metadata.name=agent-host-01a2479e",
            ])
            .stream(&[deleted]),
    ];
    let (end, bodies) = run(script, async |kube| kube.cancel_and_wait(NAME, 30).await).await;
    let end = end.unwrap();
    assert_eq!(end.kind, FinalKind::Cancelled);
    assert_eq!(bodies[1]["gracePeriodSeconds"], 30);
    assert_eq!(bodies[1]["propagationPolicy"], "Foreground");
    let record = super::super::exit_record_from(&engine(), &end, 3);
    assert_eq!(record.reason, EndReason::Interrupted(InterruptReason::Kill));
}

#[tokio::test]
async fn a_watched_job_that_fails_reports_its_final_state() {
    let running = job("uid-1", &[], false);
    let failed = job("uid-1", &[("Failed", "DeadlineExceeded")], false);
    let modified = json!({"type": "MODIFIED", "object": serde_json::to_value(&failed).unwrap()});
    let script = vec![
        listed_by_name(&running),
        Expect::new("GET", JOBS, &Value::Null)
            .query(&["watch=true"])
            .stream(&[modified]),
        Expect::new(
            "GET",
            "/api/v1/namespaces/agents/pods",
            &list("PodList", "v1", vec![]),
        )
        .query(&["labelSelector=batch.kubernetes.io/job-name="]),
    ];
    let (end, _) = run(script, async |kube| kube.wait_ended(NAME).await).await;
    let end = end.unwrap().expect("the Job is still there");
    assert_eq!(
        (end.kind, end.state.as_str()),
        (FinalKind::Failed, "DeadlineExceeded")
    );
}

#[tokio::test]
async fn recovery_lists_the_turns_jobs_by_label() {
    let other = "01a2479e-0000-7000-8000-000000000000";
    let done = turn_job(other, &[("Complete", "")]);
    let jobs = list(
        "JobList",
        "batch/v1",
        vec![
            serde_json::to_value(job("uid-1", &[], false)).unwrap(),
            done,
        ],
    );
    let script = vec![
        Expect::new("GET", JOBS, &jobs).query(&["labelSelector=agent-host/turn"]),
        Expect::new("GET", &format!("{JOBS}/{NAME}"), &status(404, "NotFound"))
            .status(StatusCode::NOT_FOUND),
    ];
    let ((listed, gone), _) = run(script, async |kube| {
        (kube.turn_jobs().await.unwrap(), kube.state(NAME).await)
    })
    .await;
    assert!(matches!(listed[NAME], JobState::Active(_)), "{listed:?}");
    let other = super::super::job_name(other);
    assert!(matches!(&listed[&other], JobState::Ended(end) if end.exit_code == Some(0)));
    assert!(
        matches!(&gone, JobState::Ended(end) if end.kind == FinalKind::Lost),
        "{gone:?}"
    );
}

fn engine() -> EngineRecord {
    let mut record = engine_record(LauncherKind::Kubernetes, "uid-1", NAME);
    record.namespace = Some("agents".into());
    record
}

/// The Job of `turn` with these conditions, as the API server lists it.
fn turn_job(turn: &str, conditions: &[(&str, &str)]) -> Value {
    let mut job = job(&format!("uid-{turn}"), conditions, false);
    job.metadata.name = Some(super::super::job_name(turn));
    job.metadata.labels = Some(BTreeMap::from([(TURN_LABEL.to_owned(), turn.to_owned())]));
    serde_json::to_value(job).unwrap()
}

/// The Job of `turn` asked by name, and gone (deleted, or its TTL ran out).
fn not_found(turn: &str) -> Expect {
    let path = format!("{JOBS}/agent-host-{turn}");
    Expect::new("GET", &path, &status(404, "NotFound")).status(StatusCode::NOT_FOUND)
}

/// A turn directory whose `engine.json` names the Job of `turn`, and no exit record.
fn placed_turn(root: &Path, turn: &str) -> std::path::PathBuf {
    let dir = root.join(turn);
    std::fs::create_dir_all(&dir).unwrap();
    let name = super::super::job_name(turn);
    let mut record = engine_record(LauncherKind::Kubernetes, &format!("uid-{turn}"), &name);
    record.namespace = Some("agents".into());
    atomic_file::write_json_atomic(&dir.join(super::super::ENGINE_FILE), &record).unwrap();
    dir
}

/// The pods of the Job of `turn`, asked when the Job failed.
fn pods_of(turn: &str, pods: Vec<Pod>) -> Expect {
    let items = pods
        .into_iter()
        .map(|pod| serde_json::to_value(pod).unwrap())
        .collect();
    let selector = format!("labelSelector={JOB_NAME_LABEL}=agent-host-{turn}");
    Expect::new(
        "GET",
        "/api/v1/namespaces/agents/pods",
        &list("PodList", "v1", items),
    )
    .query(&[selector.as_str()])
}

/// One recovery pass over `dirs` (a restarted server's), through the mocked API server that
/// answers `script`; what it said of each turn.
async fn recovery_pass(dirs: &[std::path::PathBuf], script: Vec<Expect>) -> Vec<Option<bool>> {
    let (kube, handle) = mocked();
    let server = tokio::spawn(serve(handle, script));
    let dirs = dirs.to_vec();
    let mut recovery = super::super::Recovery::with_kubernetes(kube.client);
    let recovered = tokio::task::spawn_blocking(move || {
        dirs.iter()
            .map(|dir| recovery.recover(dir))
            .collect::<Vec<_>>()
    });
    let recovered = tokio::time::timeout(TEST_LIMIT, recovered)
        .await
        .expect("recovery took too long")
        .unwrap();
    server.await.expect("the mocked API server failed");
    recovered
}

fn exit_record(dir: &Path) -> Option<crate::events::ExitRecord> {
    crate::runner::client::read_exit_record(dir).unwrap()
}

#[tokio::test]
async fn a_restarted_server_lists_the_jobs_by_label_once_and_ends_each_ended_turn_once() {
    let (running, oom, done, gone) = (
        "01a2479e-f587-720e-a303-cf66341200a1",
        "01a2479e-f587-720e-a303-cf66341200a2",
        "01a2479e-f587-720e-a303-cf66341200a3",
        "01a2479e-f587-720e-a303-cf66341200a4",
    );
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = [running, oom, done, gone]
        .iter()
        .map(|turn| placed_turn(root.path(), turn))
        .collect();
    let listed = |first: Value| {
        list(
            "JobList",
            "batch/v1",
            vec![
                first,
                turn_job(oom, &[("Failed", "BackoffLimitExceeded")]),
                turn_job(done, &[("Complete", "")]),
            ],
        )
    };
    // One list for all four turns; the pods of the failed Job; the Job the list does not
    // hold asked by name.
    let first = vec![
        Expect::new("GET", JOBS, &listed(turn_job(running, &[])))
            .query(&["labelSelector=agent-host/turn"]),
        pods_of(oom, vec![pod("OOMKilled", 137)]),
        not_found(gone),
    ];
    let recovered = recovery_pass(&dirs, first).await;
    assert_eq!(recovered, [Some(false), Some(true), Some(true), Some(true)]);
    assert!(
        exit_record(&dirs[0]).is_none(),
        "a running Job's turn goes on"
    );
    let reasons: Vec<_> = dirs[1..]
        .iter()
        .map(|dir| exit_record(dir).unwrap().reason)
        .collect();
    assert_eq!(
        reasons,
        [
            EndReason::RunnerError,
            EndReason::RunnerError,
            EndReason::RunnerLost
        ]
    );
    let message = exit_record(&dirs[1]).unwrap().error.unwrap().message;
    assert!(message.contains("OOMKilled"), "{message}");
    let written: Vec<_> = dirs[1..]
        .iter()
        .map(|dir| std::fs::read(dir.join(crate::runner::EXIT_FILE)).unwrap())
        .collect();

    // The next restart: the running Job's runner was killed meanwhile (SIGKILL); the turns
    // already ended keep their one exit record, whatever the engine says now.
    let second = vec![
        Expect::new(
            "GET",
            JOBS,
            &listed(turn_job(running, &[("Failed", "BackoffLimitExceeded")])),
        )
        .query(&["labelSelector=agent-host/turn"]),
        pods_of(running, vec![pod("Error", 137)]),
        pods_of(oom, vec![pod("OOMKilled", 137)]),
        not_found(gone),
    ];
    let recovered = recovery_pass(&dirs, second).await;
    assert_eq!(recovered, [Some(true); 4]);
    let killed = exit_record(&dirs[0]).unwrap();
    assert_eq!(
        (killed.reason, killed.signal),
        (EndReason::RunnerLost, Some(9))
    );
    for (dir, before) in dirs[1..].iter().zip(&written) {
        let now = std::fs::read(dir.join(crate::runner::EXIT_FILE)).unwrap();
        assert_eq!(&now, before, "{} was written again", dir.display());
    }
}

/// A pod of the turn's Job in `phase`, `deleting` or not.
fn pod_in(name: &str, phase: &str, deleting: bool) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            deletion_timestamp: deleting
                .then(|| serde_json::from_value(json!("2026-12-05T19:00:00Z")).unwrap()),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..PodStatus::default()
        }),
    }
}

#[tokio::test]
async fn runner_ctl_is_run_in_the_jobs_running_pod_found_by_its_label() {
    let pods = vec![
        pod_in("old-pod", "Failed", false),
        pod_in("leaving-pod", "Running", true),
        pod_in("live-pod", "Running", false),
    ];
    let (found, _) = run(vec![pods_of(TURN, pods)], async |kube| {
        kube.running_pod(NAME).await
    })
    .await;
    assert_eq!(found.unwrap(), "live-pod");
    let (none, _) = run(
        vec![pods_of(TURN, vec![pod_in("done-pod", "Succeeded", false)])],
        async |kube| kube.running_pod(NAME).await,
    )
    .await;
    assert!(
        none.unwrap_err().to_string().contains("no running pod"),
        "a Job without a running pod has nowhere to exec"
    );
}

#[test]
fn a_request_too_long_for_a_command_line_is_not_sent_through_exec() {
    let mut engine = engine();
    engine.runner_exe = Some("/usr/bin/agent-host".into());
    let request = ControlRequest::Steer {
        input: json!([]),
        prompt: "x".repeat(MAX_CTL_REQUEST),
        user_message_id: String::new(),
        client_user_message_id: None,
    };
    match control(&engine, Path::new("/srv/agent-host/t"), &request) {
        Err(ControlError::NotSent(err)) => {
            assert!(err.to_string().contains("too long"), "{err}")
        }
        other => panic!("expected NotSent: {other:?}"),
    }
}
