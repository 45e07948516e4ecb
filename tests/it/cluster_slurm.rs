//! The `slurm` launcher against a real one-node Slurm on loopback (`scripts/cluster-up.sh slurm`,
//! started once for the test binary and left running, owned by that script:
//! `scripts/cluster-down.sh slurm` stops it). Each turn's runner is the main process of a batch job;
//! the server reaches it through the control inbox and the turn files, and the engine's own
//! signals and final state end the turn exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{
    Host, PROVIDER_SECRET, TURN_TIMEOUT, completed_turn, events_of_type, exit_record,
    inbox_attaches, inbox_requests, stdin_approvals, turn_events,
};
use crate::support::procs::assert_all_gone;
use crate::support::{Describe, Sandbox, ServerProcess, wait_until};

const ANSWER: &str = "start\necho-env FAKE_SECRET\nmessage done\ncomplete\n";
const HELD: &str = "pid\nstart\nmessage before the gate\nwait-file go\nmessage after\ncomplete\n";
/// A backend with a `setsid` grandchild, both recorded in the pids file.
const TREE: &str =
    "pid\nstart\nchild grandchild.txt\nmessage tree started\nwait-file go\ncomplete\n";
const GRANDCHILD: &str = "setsid\npid\nsleep 600000\n";

/// The configuration of the one-node Slurm, started once (bounded) by the project's script.
fn slurm_conf() -> &'static str {
    static CONF: OnceLock<String> = OnceLock::new();
    CONF.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster-up.sh");
        let out = std::process::Command::new("timeout")
            .arg("180")
            .arg(&script)
            .arg("slurm")
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/cluster-up.sh slurm");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "cluster-up slurm failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .find_map(|l| l.strip_prefix("SLURM_CONF="))
            .expect("cluster-up slurm prints SLURM_CONF")
            .to_owned()
    })
}

fn slurm_env() -> BTreeMap<String, String> {
    BTreeMap::from([("SLURM_CONF".to_owned(), slurm_conf().to_owned())])
}

/// A host on the fake agent whose turns run as Slurm jobs.
fn slurm_host(scripts: &[(&str, &str)]) -> Host {
    slurm_host_with(scripts, |text| text, json!({}))
}

/// [`slurm_host`] with the configuration's text changed by `edit` and `extra` in the
/// `thread/start` params.
fn slurm_host_with(
    scripts: &[(&str, &str)],
    edit: impl FnOnce(String) -> String,
    extra: Value,
) -> Host {
    let sandbox = Sandbox::new();
    Host::write_scripts(&sandbox, scripts);
    let config = sandbox.root().join("turns.toml");
    let text = edit(std::fs::read_to_string(&config).unwrap());
    std::fs::write(&config, format!("{text}\n[launcher]\nkind = \"slurm\"\n")).unwrap();
    Host::start_with_env(sandbox, &config, "fake", extra, &slurm_env())
}

/// Another server on the host's sandbox (after a restart), with the cluster's configuration.
fn respawn(sandbox: &Sandbox) -> ServerProcess {
    let config = sandbox.root().join("turns.toml");
    ServerProcess::spawn(&sandbox.agent_host_spec(Some(&config), &[], &slurm_env()))
}

/// Runs a Slurm command of the test (bounded), failing the test if it fails.
fn slurm(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("timeout")
        .arg("30")
        .arg(program)
        .args(args)
        .env("SLURM_CONF", slurm_conf())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("{program}: {err}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Slurm state of a job (`JobState=`).
fn job_state(job: &str) -> String {
    let out = slurm("scontrol", &["show", "job", "-o", job]);
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("JobState="))
        .unwrap_or_default()
        .to_owned()
}

/// The job that runs the turn, as its runner recorded it.
fn job_of(host: &Host, turn: &str) -> String {
    let process = host.process_record(turn);
    assert_eq!(process["engine"]["launcher"], "slurm", "{process}");
    // Its socket serves `runner ctl` on the job's node; the server uses the inbox.
    assert_ne!(process["socket"], "", "{process}");
    process["engine"]["jobId"].as_str().unwrap().to_owned()
}

fn event_types(dir: &Path) -> Vec<String> {
    turn_events(dir)
        .iter()
        .map(|r| r["event"]["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_turn_placed_on_slurm_completes_once_with_the_providers_env() {
    let mut host = slurm_host(&[("answer", ANSWER)]);
    let turn = host.start_script("answer", json!({}));
    let messages = host.until_completed(&turn);
    let completed = completed_turn(&messages, &turn);
    assert_eq!(completed["status"], "completed", "{completed}");
    let texts: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "item/completed")
        .map(|m| &m["params"]["item"]["text"])
        .collect();
    assert!(
        texts.contains(&&json!(PROVIDER_SECRET)),
        "the provider's env reached the backend through sbatch: {texts:?}"
    );
    host.assert_conforms(&messages);
    let dir = host.turn_dir(&turn);
    let job = job_of(&host, &turn);
    let engine: Value =
        serde_json::from_slice(&std::fs::read(dir.join("engine.json")).unwrap()).unwrap();
    assert_eq!(engine["jobId"], job.as_str());
    assert_eq!(engine["jobName"], format!("agent-host-{turn}"));
    assert!(!dir.join("control.sock").exists());
    let spec: Value =
        serde_json::from_slice(&std::fs::read(dir.join("spec.json")).unwrap()).unwrap();
    assert!(!spec.to_string().contains(PROVIDER_SECRET));
    wait_until(TURN_TIMEOUT, "the job to end COMPLETED", || {
        (job_state(&job) == "COMPLETED").then_some(())
    });
}

#[test]
fn turn_interrupt_reaches_the_runner_through_the_control_inbox() {
    let mut host = slurm_host(&[("held", HELD)]);
    let turn = host.start_script("held", json!({}));
    host.wait_agent_message("before the gate");
    let messages = host.interrupt_to_the_end(&turn);
    let dir = host.turn_dir(&turn);
    let requests = inbox_requests(&dir);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let line = &requests[0];
    assert_eq!(
        line["request"],
        json!({"op": "interrupt", "reason": "client"})
    );
    let acked = events_of_type(&dir, "controlAcknowledged");
    assert_eq!(acked.len(), 1, "{acked:?}");
    assert_eq!(acked[0]["event"]["id"], line["id"]);
    assert_eq!(acked[0]["event"]["ok"], true);
    assert_eq!(exit_record(&dir)["reason"], "client");
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
    host.assert_conforms(&messages);
}

#[test]
fn the_engines_sigterm_ends_the_turn_gracefully_and_takes_the_whole_tree() {
    let mut host = slurm_host(&[("tree", TREE), ("grandchild", GRANDCHILD)]);
    let turn = host.start_script("tree", json!({}));
    host.wait_agent_message("tree started");
    wait_until(TURN_TIMEOUT, "the backend and its grandchild", || {
        (host.recorded_pids().len() == 2).then_some(())
    });
    let job = job_of(&host, &turn);
    // Plain scancel: SIGTERM to every process of the job at once, SIGKILL after KillWait.
    slurm("scancel", &[&job]);
    let messages = host.until_completed(&turn);
    assert_eq!(completed_turn(&messages, &turn)["status"], "interrupted");
    let dir = host.turn_dir(&turn);
    let exit = exit_record(&dir);
    assert_eq!(exit["reason"], "kill", "{exit}");
    let types = event_types(&dir);
    assert_eq!(
        types.last().map(String::as_str),
        Some("turnEnded"),
        "the runner itself wrote the end: {types:?}"
    );
    assert!(
        types.contains(&"interruptRequested".to_owned()),
        "{types:?}"
    );
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
    host.assert_conforms(&messages);
}

#[test]
fn the_engines_usr1_interrupts_the_turn() {
    let mut host = slurm_host(&[("held", HELD)]);
    let turn = host.start_script("held", json!({}));
    host.wait_agent_message("before the gate");
    let job = job_of(&host, &turn);
    slurm("scancel", &["--batch", "--signal=USR1", &job]);
    let messages = host.until_completed(&turn);
    assert_eq!(completed_turn(&messages, &turn)["status"], "interrupted");
    let dir = host.turn_dir(&turn);
    assert_eq!(exit_record(&dir)["reason"], "client");
    assert_eq!(
        event_types(&dir).last().map(String::as_str),
        Some("turnEnded")
    );
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
}

/// The job's runner SIGKILLed outright (as the kernel's OOM killer or an operator would):
/// it writes nothing more, and Slurm ends the job and every process left in it.
fn kill_runner_outright(host: &Host, turn: &str) -> String {
    let job = job_of(host, turn);
    let process = host.process_record(turn);
    let runner = (
        process["runner"]["pid"].as_i64().unwrap() as i32,
        process["runner"]["startTime"].as_u64().unwrap(),
    );
    assert!(crate::support::procs::alive(runner.0, runner.1));
    let status = std::process::Command::new("kill")
        .args(["-KILL", &runner.0.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    job
}

#[test]
fn a_runner_killed_outright_is_ended_once_from_the_engines_final_state() {
    let mut host = slurm_host(&[("held", HELD)]);
    let turn = host.start_script("held", json!({}));
    host.wait_agent_message("before the gate");
    let job = kill_runner_outright(&host, &turn);
    let messages = host.until_completed(&turn);
    assert_eq!(completed_turn(&messages, &turn)["status"], "interrupted");
    let dir = host.turn_dir(&turn);
    let exit = exit_record(&dir);
    assert_eq!(exit["reason"], "runnerLost", "{exit}");
    assert_eq!(exit["signal"], 9, "{exit}");
    let message = exit["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("slurm job {job} ended (FAILED, signal 9)")),
        "{message}"
    );
    assert!(
        !event_types(&dir).contains(&"turnEnded".to_owned()),
        "the runner wrote nothing: the end came from the engine"
    );
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
}

#[test]
fn recovery_ends_a_background_turn_whose_runner_was_killed_while_no_server_ran() {
    let mut host = slurm_host(&[("held", HELD)]);
    let turn = host.start_script("held", json!({"background": true}));
    host.wait_agent_message("before the gate");
    host.server.kill();
    let job = kill_runner_outright(&host, &turn);
    wait_until(TURN_TIMEOUT, "the job to end", || {
        (job_state(&job) == "FAILED").then_some(())
    });
    let dir = host.turn_dir(&turn);
    assert!(!dir.join("exit.json").exists());
    let mut server = respawn(&host.sandbox);
    server.initialize();
    let exit = wait_until(
        TURN_TIMEOUT,
        Describe(|| format!("recovery to end {turn}")),
        || dir.join("exit.json").exists().then(|| exit_record(&dir)),
    );
    assert_eq!(
        (&exit["status"], &exit["reason"]),
        (&json!("interrupted"), &json!("runnerLost")),
        "{exit}"
    );
    // A second server start finds the turn ended and writes nothing more.
    let before = std::fs::read(dir.join("exit.json")).unwrap();
    server.kill();
    let mut again = respawn(&host.sandbox);
    again.initialize();
    let read = again.request(
        json!(9),
        "thread/read",
        json!({"threadId": host.thread_id, "includeTurns": true}),
    );
    assert_eq!(std::fs::read(dir.join("exit.json")).unwrap(), before);
    let turns = read.0["result"]["thread"]["turns"]
        .as_array()
        .unwrap()
        .clone();
    let last: &Value = turns.last().unwrap();
    assert_eq!(
        (&last["id"], &last["status"]),
        (&json!(turn), &json!("interrupted"))
    );
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
}

#[test]
fn a_background_turn_outlives_a_server_sigkill_and_a_new_server_follows_it_to_its_end() {
    let mut host = slurm_host(&[("held", HELD)]);
    let turn = host.start_script("held", json!({"background": true}));
    host.wait_agent_message("before the gate");
    let job = job_of(&host, &turn);
    host.server.kill();
    let mut server = respawn(&host.sandbox);
    server.initialize();
    let (resumed, _) = server.request(
        json!(1),
        "thread/resume",
        json!({"threadId": host.thread_id}),
    );
    assert_eq!(
        resumed["result"]["thread"]["status"]["type"], "active",
        "{resumed}"
    );
    assert_eq!(job_state(&job), "RUNNING");
    // Held at its gate until now: the new server can only have followed the same job.
    host.release("go");
    let messages = server.until_turn_completed(&turn, TURN_TIMEOUT);
    let done = completed_turn(&messages, &turn);
    assert_eq!(done["status"], "completed", "{done}");
    let texts: Vec<&Value> = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["text"])
        .collect();
    assert!(texts.contains(&&json!("after")), "{done}");
    let dir = host.turn_dir(&turn);
    assert_eq!(exit_record(&dir)["reason"], "completed");
    assert_eq!(job_of(&host, &turn), job, "one job ran the turn");
    wait_until(TURN_TIMEOUT, "the job to end COMPLETED", || {
        (job_state(&job) == "COMPLETED").then_some(())
    });
}

/// Signals the recorded backend of `turn` only (a process this test's server started).
fn signal_backend(host: &Host, turn: &str, signal: &str) {
    let process = host.process_record(turn);
    let pid = process["backend"]["pid"].as_i64().unwrap();
    let start = process["backend"]["startTime"].as_u64().unwrap();
    assert!(crate::support::procs::alive(pid as i32, start));
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn an_engine_signal_that_reaches_the_backend_first_still_means_the_same() {
    // An engine that signals the whole job at once may hit the backend before the runner:
    // a backend dead of SIGTERM (SIGUSR1) is the end now (the interrupt), not a failure.
    for (signal, reason) in [("TERM", "kill"), ("USR1", "client")] {
        let mut host = slurm_host(&[("held", HELD)]);
        let turn = host.start_script("held", json!({}));
        host.wait_agent_message("before the gate");
        signal_backend(&host, &turn, signal);
        let messages = host.until_completed(&turn);
        assert_eq!(completed_turn(&messages, &turn)["status"], "interrupted");
        let exit = exit_record(&host.turn_dir(&turn));
        assert_eq!(exit["reason"], reason, "{signal}: {exit}");
    }
}

#[test]
fn approvals_are_answered_through_the_inbox_while_the_server_follows() {
    let script = "start\nwait-file go\napprove-command make build\nmessage built.\ncomplete\n";
    let policy = json!({"approvalPolicy": "untrusted"});
    let mut host = slurm_host_with(&[("s", script)], stdin_approvals, policy);
    let turn = host.start_script("s", json!({}));
    let dir = host.turn_dir(&turn);
    let request = host.approval_request_once_attached(&dir);
    // Two renewals after the request: the runner's grace for a first client (2 s) is over,
    // so only the server's attachment keeps the policy (decline) from deciding.
    let seen = inbox_attaches(&dir);
    wait_until(TURN_TIMEOUT, "two more attach renewals", || {
        (inbox_attaches(&dir) >= seen + 2).then_some(())
    });
    host.accept_approval(&request, &turn, &dir);
}
