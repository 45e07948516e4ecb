//! A fake Kubernetes API server on loopback, with a fake kubelet behind it: the `kubernetes`
//! launcher's Jobs run for real as local processes, and `pods/exec` runs its command for real
//! in the "pod" (a local process with the container's environment), its output streamed back
//! over a WebSocket on the channel protocol `v4.channel.k8s.io` (one binary message per
//! chunk, the channel first: 1 stdout, 2 stderr, 3 the `Status`).
//!
//! Every request is checked against what the launcher must send (the Job's `backoffLimit: 0`,
//! `restartPolicy: Never`, turn label and runner container; an exec's container, streams,
//! command and WebSocket subprotocol); a request that fails a check, or that the fake does
//! not serve, is a [`FakeKube::problems`] entry the test asserts empty. The processes the
//! fake kubelet started are ended, by pid, when it is dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::Sandbox;
use super::loopback::{Connection, Loopback, Request, Service};

/// The namespace of the fake's Jobs.
pub const NAMESPACE: &str = "turns";
/// The node the fake's pods run on.
const NODE: &str = "fake-node";
/// How long the fake serves.
const LIFETIME: Duration = Duration::from_secs(300);
/// How long a command run through exec may take.
const EXEC_LIMIT: Duration = Duration::from_secs(30);

/// One `pods/exec` the fake served: the pod and the command it ran, how it ended.
#[derive(Debug, Clone)]
pub struct Exec {
    pub pod: String,
    pub argv: Vec<String>,
    pub exit_code: Option<i32>,
    pub stdout: String,
}

/// A Job the fake kubelet runs.
struct FakeJob {
    manifest: Value,
    uid: String,
    child: Child,
}

/// How the fake answers `pods/exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecMode {
    /// Runs the command in the pod and streams its output back.
    Run,
    /// `403 Forbidden`, as an API server whose RBAC does not grant `pods/exec`.
    Refuse,
    /// Opens the stream, then ends it with a failure status and no output, as a command that
    /// died before it printed anything (the runner may or may not have got the request).
    Silent,
}

/// A Job deleted through the API: its name and the body of the delete.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub name: String,
    pub body: Value,
}

struct State {
    /// The environment of every pod before its container's own.
    base_env: BTreeMap<String, String>,
    exec_mode: ExecMode,
    deleted: Mutex<Vec<Deleted>>,
    jobs: Mutex<BTreeMap<String, FakeJob>>,
    execs: Mutex<Vec<Exec>>,
    problems: Mutex<Vec<String>>,
}

/// The running fake; see the module documentation.
pub struct FakeKube {
    state: Arc<State>,
    kubeconfig: PathBuf,
    // Dropped after `state`'s children are ended (see `Drop`).
    _loopback: Loopback,
}

impl FakeKube {
    /// Starts the fake and writes a kubeconfig for it into the sandbox; `exec_mode` says how
    /// it answers `pods/exec`.
    pub fn start(sandbox: &Sandbox, exec_mode: ExecMode) -> FakeKube {
        let base_env = BTreeMap::from([
            ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
            (
                "HOME".to_owned(),
                sandbox.home_dir().to_string_lossy().into_owned(),
            ),
        ]);
        let state = Arc::new(State {
            base_env,
            exec_mode,
            deleted: Mutex::new(Vec::new()),
            jobs: Mutex::new(BTreeMap::new()),
            execs: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
        });
        let loopback = Loopback::start(Arc::new(Api(Arc::clone(&state))), LIFETIME);
        let kubeconfig = sandbox.root().join("kubeconfig.yaml");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: \
                 http://{}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: \
                 fake\n    namespace: {NAMESPACE}\ncurrent-context: fake\nusers:\n- name: fake\n  \
                 user:\n    token: fake-token\n",
                loopback.addr()
            ),
        )
        .unwrap();
        FakeKube {
            state,
            kubeconfig,
            _loopback: loopback,
        }
    }

    /// The kubeconfig to give the server (`KUBECONFIG`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Every exec served so far.
    pub fn execs(&self) -> Vec<Exec> {
        self.state.execs.lock().unwrap().clone()
    }

    /// Every request that failed a check or was not served.
    pub fn problems(&self) -> Vec<String> {
        self.state.problems.lock().unwrap().clone()
    }

    /// The Jobs deleted through the API.
    pub fn deleted(&self) -> Vec<Deleted> {
        self.state.deleted.lock().unwrap().clone()
    }

    /// The names of the Jobs there (created and not deleted).
    pub fn jobs(&self) -> Vec<String> {
        self.state.jobs.lock().unwrap().keys().cloned().collect()
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        for job in self.state.jobs.lock().unwrap().values_mut() {
            if matches!(job.child.try_wait(), Ok(None)) {
                let _ = job.child.kill();
            }
            let _ = job.child.wait();
        }
    }
}

struct Api(Arc<State>);

impl Service for Api {
    fn exhausted(&self) -> bool {
        false
    }

    fn serve(&self, request: Request, connection: &mut Connection) -> bool {
        let state = &self.0;
        let jobs = format!("/apis/batch/v1/namespaces/{NAMESPACE}/jobs");
        let pods = format!("/api/v1/namespaces/{NAMESPACE}/pods");
        let path = request.path.clone();
        let answer = match (request.method.as_str(), path.as_str()) {
            ("POST", p) if p == jobs => state.create_job(&request),
            ("GET", p) if p == jobs => state.list_jobs(&request),
            ("GET", p) if p.starts_with(&format!("{jobs}/")) => state.get_job(&p[jobs.len() + 1..]),
            ("DELETE", p) if p.starts_with(&format!("{jobs}/")) => {
                state.delete_job(&p[jobs.len() + 1..], &request)
            }
            ("GET", p) if p == pods => state.list_pods(&request),
            ("GET", p) if p.starts_with(&format!("{pods}/")) && p.ends_with("/exec") => {
                let pod = &p[pods.len() + 1..p.len() - "/exec".len()];
                return state.exec(pod, &request, connection);
            }
            _ => {
                state.problem(format!("not served: {}", request.line));
                (404, status_json(404, "NotFound", "not served by the fake"))
            }
        };
        let body = serde_json::to_vec(&answer.1).unwrap();
        connection
            .respond(answer.0, "application/json", &body)
            .is_ok()
    }
}

impl State {
    fn problem(&self, what: String) {
        self.problems.lock().unwrap().push(what);
    }

    /// `POST jobs`: checks the manifest and starts its container's command.
    fn create_job(&self, request: &Request) -> (u16, Value) {
        let mut job = request.json();
        let name = job["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let checks = [
            (job["kind"] == "Job", "kind Job"),
            (job["spec"]["backoffLimit"] == 0, "backoffLimit 0"),
            (
                job["spec"]["template"]["spec"]["restartPolicy"] == "Never",
                "restartPolicy Never",
            ),
            (
                job["metadata"]["labels"]["agent-host/turn"].is_string(),
                "the turn label",
            ),
            (
                job["spec"]["template"]["spec"]["containers"][0]["name"] == "runner",
                "the runner container",
            ),
            (name.starts_with("agent-host-"), "the turn's job name"),
        ];
        for (ok, what) in checks {
            if !ok {
                self.problem(format!("Job {name} lacks {what}: {job}"));
            }
        }
        if self.jobs.lock().unwrap().contains_key(&name) {
            return (409, status_json(409, "AlreadyExists", "the Job exists"));
        }
        let container = job["spec"]["template"]["spec"]["containers"][0].clone();
        let child = match self.run_container(&container, Stdio::null()) {
            Ok(child) => child,
            Err(err) => {
                self.problem(format!("cannot start Job {name}: {err}"));
                return (500, status_json(500, "InternalError", &err.to_string()));
            }
        };
        let uid = format!("uid-{name}");
        job["metadata"]["uid"] = json!(uid);
        job["metadata"]["namespace"] = json!(NAMESPACE);
        let manifest = job.clone();
        self.jobs.lock().unwrap().insert(
            name,
            FakeJob {
                manifest,
                uid,
                child,
            },
        );
        job["status"] = json!({"active": 1});
        (201, job)
    }

    /// The command of `container` as its pod runs it, after `launcher` (a program and its
    /// arguments, or nothing): with the pod's environment only, in its working directory,
    /// without stdin.
    fn pod_command(&self, container: &Value, launcher: &[String]) -> std::io::Result<Command> {
        let argv: Vec<String> = container["command"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("no command"))?;
        let mut command = match launcher.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .args(args)
            .env_clear()
            .envs(&self.base_env)
            .envs(pod_env(container))
            .stdin(Stdio::null());
        if let Some(dir) = container["workingDir"].as_str() {
            command.current_dir(dir);
        }
        Ok(command)
    }

    /// The container's command with the pod's environment, in its working directory.
    fn run_container(&self, container: &Value, stdout: Stdio) -> std::io::Result<Child> {
        self.pod_command(container, &[])?
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
    }

    fn job_json(job: &mut FakeJob) -> Value {
        let mut value = job.manifest.clone();
        value["metadata"]["uid"] = json!(job.uid);
        value["status"] = match job.child.try_wait() {
            Ok(None) | Err(_) => json!({"active": 1}),
            Ok(Some(status)) if status.success() => json!({
                "succeeded": 1,
                "conditions": [{"type": "Complete", "status": "True"}],
            }),
            Ok(Some(_)) => json!({
                "failed": 1,
                "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}],
            }),
        };
        value
    }

    fn get_job(&self, name: &str) -> (u16, Value) {
        match self.jobs.lock().unwrap().get_mut(name) {
            Some(job) => (200, State::job_json(job)),
            None => (404, status_json(404, "NotFound", "no such Job")),
        }
    }

    /// `GET jobs?labelSelector=agent-host/turn`: every Job of a turn; `GET
    /// jobs?fieldSelector=metadata.name=NAME` (a watcher's list): that Job, if there.
    fn list_jobs(&self, request: &Request) -> (u16, Value) {
        let labels = query_values(&request.query, "labelSelector");
        let fields = query_values(&request.query, "fieldSelector");
        let name = fields
            .first()
            .and_then(|f| f.strip_prefix("metadata.name="))
            .map(str::to_owned);
        if labels != ["agent-host/turn"] && name.is_none() {
            self.problem(format!(
                "Jobs listed by {labels:?} {fields:?}, not by the turn label or a name"
            ));
        }
        if query_values(&request.query, "watch") == ["true"] {
            self.problem(format!("a watch the fake does not serve: {}", request.line));
        }
        let items: Vec<Value> = self
            .jobs
            .lock()
            .unwrap()
            .iter_mut()
            .filter(|(job, _)| name.as_ref().is_none_or(|name| name == *job))
            .map(|(_, job)| State::job_json(job))
            .collect();
        (
            200,
            json!({"apiVersion": "batch/v1", "kind": "JobList",
                "metadata": {"resourceVersion": "1"}, "items": items}),
        )
    }

    /// `DELETE jobs/NAME`: the kubelet's SIGTERM to the pod's main process, then (after the
    /// grace, bounded here by the grace the delete asks) the Job is gone.
    fn delete_job(&self, name: &str, request: &Request) -> (u16, Value) {
        let body = request.json();
        let grace = body["gracePeriodSeconds"].as_u64().unwrap_or(30);
        self.deleted.lock().unwrap().push(Deleted {
            name: name.to_owned(),
            body,
        });
        let Some(mut job) = self.jobs.lock().unwrap().remove(name) else {
            return (404, status_json(404, "NotFound", "no such Job"));
        };
        if let Ok(pid) = i32::try_from(job.child.id())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
            && matches!(job.child.try_wait(), Ok(None))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(grace);
        while matches!(job.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = job.child.kill();
        let _ = job.child.wait();
        (
            200,
            json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success"}),
        )
    }

    /// `GET pods?labelSelector=batch.kubernetes.io/job-name=NAME`: the Job's one pod.
    fn list_pods(&self, request: &Request) -> (u16, Value) {
        let selector = query_values(&request.query, "labelSelector");
        let name = selector
            .first()
            .and_then(|s| s.strip_prefix("batch.kubernetes.io/job-name="))
            .unwrap_or_default()
            .to_owned();
        let mut jobs = self.jobs.lock().unwrap();
        let items: Vec<Value> = match jobs.get_mut(&name) {
            Some(job) => {
                let phase = match job.child.try_wait() {
                    Ok(None) | Err(_) => "Running",
                    Ok(Some(status)) if status.success() => "Succeeded",
                    Ok(Some(_)) => "Failed",
                };
                vec![json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": format!("{name}-pod"),
                        "namespace": NAMESPACE,
                        "labels": {"batch.kubernetes.io/job-name": name},
                    },
                    "spec": {"nodeName": NODE, "containers": [{"name": "runner"}]},
                    "status": {"phase": phase},
                })]
            }
            None => {
                self.problem(format!("pods listed by {selector:?}: no such Job"));
                Vec::new()
            }
        };
        (
            200,
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}),
        )
    }

    /// `GET pods/NAME/exec`: checks the request, upgrades to a WebSocket, runs the command
    /// in the pod and streams its output and status back.
    fn exec(&self, pod: &str, request: &Request, connection: &mut Connection) -> bool {
        let argv = self.check_exec(request);
        if self.exec_mode == ExecMode::Refuse {
            let body = serde_json::to_vec(&status_json(
                403,
                "Forbidden",
                "pods \"x\" is forbidden: cannot create resource \"pods/exec\"",
            ))
            .unwrap();
            let _ = connection.respond(403, "application/json", &body);
            return false;
        }
        let job_name = pod.strip_suffix("-pod").unwrap_or_default();
        let container = self
            .jobs
            .lock()
            .unwrap()
            .get(job_name)
            .map(|job| job.manifest["spec"]["template"]["spec"]["containers"][0].clone());
        let Some(mut container) = container else {
            self.problem(format!("exec in {pod}: no such pod"));
            let body = serde_json::to_vec(&status_json(404, "NotFound", "no such pod")).unwrap();
            let _ = connection.respond(404, "application/json", &body);
            return false;
        };
        let Some(mut ws) = upgrade(request, connection) else {
            return false;
        };
        container["command"] = json!(argv);
        let ran = match self.exec_mode {
            ExecMode::Silent => Ok((Some(1), String::new(), String::new())),
            ExecMode::Run | ExecMode::Refuse => self.run_to_end(&container),
        };
        let (exit_code, stdout, stderr) = match ran {
            Ok(ran) => ran,
            Err(err) => (None, String::new(), format!("exec failed: {err}")),
        };
        stream_result(&mut ws, exit_code, &stdout, &stderr);
        self.execs.lock().unwrap().push(Exec {
            pod: pod.to_owned(),
            argv,
            exit_code,
            stdout,
        });
        false
    }

    /// Checks an exec request (a problem for each thing it lacks); returns its command.
    fn check_exec(&self, request: &Request) -> Vec<String> {
        let query = |name: &str| query_values(&request.query, name);
        let argv = query("command");
        let protocols = request.header("sec-websocket-protocol").unwrap_or_default();
        let checks = [
            (query("container") == ["runner"], "container=runner"),
            (query("stdout") == ["true"], "stdout=true"),
            (query("stderr") == ["true"], "stderr=true"),
            (query("stdin").is_empty(), "no stdin"),
            (query("tty").is_empty(), "no tty"),
            (!argv.is_empty(), "a command"),
            (
                request
                    .header("upgrade")
                    .is_some_and(|u| u.eq_ignore_ascii_case("websocket")),
                "Upgrade: websocket",
            ),
            (
                protocols
                    .split(',')
                    .any(|p| p.trim() == "v4.channel.k8s.io"),
                "the v4.channel.k8s.io subprotocol",
            ),
        ];
        for (ok, what) in checks {
            if !ok {
                self.problem(format!("exec lacks {what}: {}", request.line));
            }
        }
        argv
    }

    /// Runs the command of `container` in its pod to its end (bounded): exit code, stdout,
    /// stderr.
    fn run_to_end(&self, container: &Value) -> std::io::Result<(Option<i32>, String, String)> {
        let limit = ["timeout".to_owned(), EXEC_LIMIT.as_secs().to_string()];
        let out = self.pod_command(container, &limit)?.output()?;
        Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

/// Answers the exec request with `101 Switching Protocols` on `v4.channel.k8s.io`; the
/// WebSocket on the connection.
fn upgrade(
    request: &Request,
    connection: &mut Connection,
) -> Option<tungstenite::WebSocket<std::net::TcpStream>> {
    let key = request.header("sec-websocket-key").unwrap_or_default();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-accept: {accept}\r\nsec-websocket-protocol: v4.channel.k8s.io\r\n\r\n"
    );
    connection.write_raw(head.as_bytes()).ok()?;
    let stream = connection.upgraded().ok()?;
    Some(tungstenite::WebSocket::from_raw_socket(
        stream,
        tungstenite::protocol::Role::Server,
        None,
    ))
}

/// Streams a command's output (channel 1 stdout, 2 stderr) and its `Status` (channel 3),
/// then closes the WebSocket and waits (bounded) for the client's close.
fn stream_result(
    ws: &mut tungstenite::WebSocket<std::net::TcpStream>,
    exit_code: Option<i32>,
    stdout: &str,
    stderr: &str,
) {
    let status = match exit_code {
        Some(0) => json!({"metadata": {}, "status": "Success"}),
        code => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: {code:?}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.unwrap_or(-1).to_string()}]},
        }),
    };
    for (channel, bytes) in [
        (1u8, stdout.as_bytes().to_vec()),
        (2u8, stderr.as_bytes().to_vec()),
        (3u8, serde_json::to_vec(&status).unwrap()),
    ] {
        if bytes.is_empty() {
            continue;
        }
        let mut frame = vec![channel];
        frame.extend_from_slice(&bytes);
        if ws.send(tungstenite::Message::Binary(frame.into())).is_err() {
            return;
        }
    }
    let _ = ws.close(None);
    while ws.read().is_ok() {}
}

/// The container's environment, `fieldRef`s resolved as the kubelet would.
fn pod_env(container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for var in container["env"].as_array().into_iter().flatten() {
        let Some(name) = var["name"].as_str() else {
            continue;
        };
        let value = match (
            var["value"].as_str(),
            var["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        ) {
            (Some(value), _) => value.to_owned(),
            (None, Some("spec.nodeName")) => NODE.to_owned(),
            (None, _) => String::new(),
        };
        env.insert(name.to_owned(), value);
    }
    env
}

/// A `metav1.Status` of a failed request.
fn status_json(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

/// The decoded values of the query parameter `name`, in order.
pub fn query_values(query: &str, name: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| decode(key) == name)
        .map(|(_, value)| decode(value))
        .collect()
}

/// Percent-decoding of a form-encoded query part (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
