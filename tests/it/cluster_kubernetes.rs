//! The `kubernetes` launcher end to end against a fake API server with a fake kubelet on
//! loopback (`support::mock_kube`): each turn's Job runs its runner for real as a local
//! process, and the server's control requests reach the runner as `agent-host runner ctl`
//! run in the "pod" through `pods/exec` (a real WebSocket on the `v4.channel.k8s.io`
//! protocol), which hands them to the runner over its control socket there. The fake checks
//! every request; when it refuses `pods/exec`, the request goes through the control inbox.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Sandbox;
use crate::support::host::{
    Host, completed_turn, events_of_type, exit_record, inbox_requests, stdin_approvals, turn_events,
};
use crate::support::mock_kube::{ExecMode, FakeKube};
use crate::support::procs::assert_all_gone;

const HELD: &str = "pid\nstart\nmessage before the gate\nwait-file go\nmessage after\ncomplete\n";

/// A host on the fake agent whose turns run as Jobs of the fake API server.
fn kube_host(
    scripts: &[(&str, &str)],
    exec_mode: ExecMode,
    edit: impl FnOnce(String) -> String,
    extra: Value,
) -> (Host, FakeKube) {
    let sandbox = Sandbox::new();
    Host::write_scripts(&sandbox, scripts);
    let kube = FakeKube::start(&sandbox, exec_mode);
    let config = sandbox.root().join("turns.toml");
    let text = edit(std::fs::read_to_string(&config).unwrap());
    std::fs::write(
        &config,
        format!(
            "{text}\n[launcher]\nkind = \"kubernetes\"\n\n[launcher.kubernetes]\nimage = \
             \"agent-host:test\"\nclaim = \"state\"\nmount_path = \"{}\"\nrunner_exe = \"{}\"\n",
            sandbox.root().display(),
            env!("CARGO_BIN_EXE_agent-host"),
        ),
    )
    .unwrap();
    let env = BTreeMap::from([(
        "KUBECONFIG".to_owned(),
        kube.kubeconfig().to_string_lossy().into_owned(),
    )]);
    let host = Host::start_with_env(sandbox, &config, "fake", extra, &env);
    (host, kube)
}

/// The one exec the fake served: `runner ctl` of the turn with `request`, answered `ok`.
fn assert_one_ctl_exec(kube: &FakeKube, turn: &str, dir: &Path, request: &Value) {
    let execs = kube.execs();
    assert_eq!(execs.len(), 1, "one pods/exec: {execs:?}");
    let exec = &execs[0];
    assert_eq!(exec.pod, format!("agent-host-{turn}-pod"));
    assert_eq!(exec.argv[0], env!("CARGO_BIN_EXE_agent-host"));
    assert_eq!(
        exec.argv[1..6],
        [
            "runner",
            "ctl",
            "--turn-dir",
            &dir.to_string_lossy(),
            "--request"
        ],
        "{exec:?}"
    );
    let sent: Value = serde_json::from_str(&exec.argv[6]).unwrap();
    assert_eq!(&sent, request, "{exec:?}");
    assert_eq!(exec.exit_code, Some(0), "{exec:?}");
    assert_eq!(exec.stdout.trim(), r#"{"ok":true}"#, "the runner's answer");
}

#[test]
fn turn_interrupt_reaches_the_runner_as_runner_ctl_through_pods_exec() {
    let (mut host, kube) = kube_host(&[("held", HELD)], ExecMode::Run, |t| t, json!({}));
    let turn = host.start_script("held", json!({}));
    host.wait_agent_message("before the gate");
    let dir = host.turn_dir(&turn);
    let process = host.process_record(&turn);
    assert_eq!(process["engine"]["launcher"], "kubernetes", "{process}");
    assert_eq!(process["engine"]["jobId"], format!("agent-host-{turn}"));
    assert_eq!(process["engine"]["node"], "fake-node");
    let messages = host.interrupt_to_the_end(&turn);
    assert_one_ctl_exec(
        &kube,
        &turn,
        &dir,
        &json!({"op": "interrupt", "reason": "client"}),
    );
    // Not through the inbox: no request there, none acknowledged in the log.
    assert_eq!(inbox_requests(&dir), Vec::<Value>::new());
    let acked = events_of_type(&dir, "controlAcknowledged");
    assert_eq!(acked, Vec::<Value>::new());
    let exit = exit_record(&dir);
    assert_eq!(exit["reason"], "client", "{exit}");
    assert_eq!(kube.jobs(), [format!("agent-host-{turn}")]);
    assert_eq!(kube.problems(), Vec::<String>::new());
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
    host.assert_conforms(&messages);
}

#[test]
fn an_approval_reaches_the_runner_as_runner_ctl_through_pods_exec() {
    let script = "start\nwait-file go\napprove-command make build\nmessage built.\ncomplete\n";
    let policy = json!({"approvalPolicy": "untrusted"});
    let (mut host, kube) = kube_host(&[("s", script)], ExecMode::Run, stdin_approvals, policy);
    let turn = host.start_script("s", json!({}));
    let dir = host.turn_dir(&turn);
    let request = host.approval_request_once_attached(&dir);
    host.accept_approval(&request, &turn, &dir);
    let requested = turn_events(&dir)
        .into_iter()
        .find(|r| r["event"]["type"] == "approvalRequested")
        .expect("approvalRequested");
    let request_id = requested["event"]["requestId"].clone();
    assert_one_ctl_exec(
        &kube,
        &turn,
        &dir,
        &json!({"op": "approve", "requestId": request_id, "decision": "accept"}),
    );
    assert_eq!(inbox_requests(&dir), Vec::<Value>::new());
    assert_eq!(kube.problems(), Vec::<String>::new());
}

#[test]
fn a_refused_pods_exec_falls_back_to_the_control_inbox() {
    let (mut host, kube) = kube_host(&[("held", HELD)], ExecMode::Refuse, |t| t, json!({}));
    let turn = host.start_script("held", json!({}));
    host.wait_agent_message("before the gate");
    host.interrupt_to_the_end(&turn);
    assert_eq!(kube.execs().len(), 0, "the exec was refused");
    let dir = host.turn_dir(&turn);
    let requests = inbox_requests(&dir);
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0]["request"],
        json!({"op": "interrupt", "reason": "client"})
    );
    let acked = events_of_type(&dir, "controlAcknowledged");
    assert_eq!(acked.len(), 1, "{acked:?}");
    assert_eq!(acked[0]["event"]["id"], requests[0]["id"]);
    assert_eq!(kube.problems(), Vec::<String>::new());
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
}

#[test]
fn agent_host_kill_reaches_the_runner_as_runner_ctl_through_pods_exec() {
    let (mut host, kube) = kube_host(&[("held", HELD)], ExecMode::Run, |t| t, json!({}));
    let turn = host.start_script("held", json!({}));
    host.wait_agent_message("before the gate");
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_agent-host"))
        .args(["kill", &turn, "--state-dir"])
        .arg(host.sandbox.state_dir())
        .env("KUBECONFIG", kube.kubeconfig())
        .env_remove("AGENT_HOST_HOME")
        .env_remove("AGENT_HOST_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let exit: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exit["reason"], "kill", "{exit}");
    let messages = host.until_completed(&turn);
    assert_eq!(completed_turn(&messages, &turn)["status"], "interrupted");
    let dir = host.turn_dir(&turn);
    assert_one_ctl_exec(
        &kube,
        &turn,
        &dir,
        &json!({"op": "interrupt", "reason": "kill"}),
    );
    assert_eq!(inbox_requests(&dir), Vec::<Value>::new());
    assert_eq!(kube.problems(), Vec::<String>::new());
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
}

#[test]
fn an_exec_that_gives_no_answer_is_not_sent_again_and_the_job_is_deleted_with_grace() {
    let (mut host, kube) = kube_host(&[("held", HELD)], ExecMode::Silent, |t| t, json!({}));
    let turn = host.start_script("held", json!({}));
    host.wait_agent_message("before the gate");
    host.interrupt_to_the_end(&turn);
    assert_eq!(kube.execs().len(), 1, "one exec, no answer");
    let dir = host.turn_dir(&turn);
    // Not sent a second time through the inbox: the runner may have taken it.
    assert_eq!(inbox_requests(&dir), Vec::<Value>::new());
    // The runner that did not answer is stopped by deleting its Job with the grace period:
    // SIGTERM, the graceful end, whose exit record is the runner's own.
    let deleted = kube.deleted();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0].name, format!("agent-host-{turn}"));
    assert_eq!(deleted[0].body["gracePeriodSeconds"], 30, "{deleted:?}");
    assert_eq!(deleted[0].body["propagationPolicy"], "Foreground");
    let exit = exit_record(&dir);
    assert_eq!(exit["reason"], "kill", "{exit}");
    assert_eq!(kube.jobs(), Vec::<String>::new());
    assert_eq!(kube.problems(), Vec::<String>::new());
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
}
