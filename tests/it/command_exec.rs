//! `command/exec` against the real binary: the whole tree of a command goes when it is
//! terminated, when it exits, when its client disconnects and when its server is killed,
//! `setsid`-ed orphans included; the sandbox denies what the policy does not grant; a command
//! that does not read its stdin cannot make the server buffer without bound. (The protocol
//! itself, every method and error, is in the `command_exec*` transcript fixtures.)

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::procs::{Proc, alive, assert_all_gone, read_proc};
use crate::support::{DEFAULT_TIMEOUT, Sandbox, ServerProcess};

/// A leader that starts, through `setsid`, a shell that starts `sleep` and exits at once: the
/// `sleep` is an orphan in a session of its own, neither in the leader's tree nor in its
/// session or group. The leader prints both pids, then runs `TAIL`.
fn setsid_script(tail: &str) -> String {
    format!(r#"setsid sh -c 'sleep 600 & echo "orphan $!"'; echo "leader $$"; {tail}"#)
}

/// The processes of one command, read while they run.
struct Tree {
    supervisor: Proc,
    leader: Proc,
    orphan: Proc,
}

impl Tree {
    fn pids(&self) -> Vec<(i32, u64)> {
        [&self.supervisor, &self.leader, &self.orphan]
            .iter()
            .map(|p| (p.pid, p.start_time))
            .collect()
    }

    fn command_pids(&self) -> Vec<(i32, u64)> {
        [&self.leader, &self.orphan]
            .iter()
            .map(|p| (p.pid, p.start_time))
            .collect()
    }
}

fn started_server(sandbox: &Sandbox) -> ServerProcess {
    let mut server = sandbox.spawn_agent_host();
    server.initialize();
    server
}

/// Starts a streamed command with process id `pid` (stdin streamed too), running `script`.
fn exec_streamed(server: &mut ServerProcess, id: i64, pid: &str, script: &str) {
    server.send_json(&json!({"id": id, "method": "command/exec", "params": {
        "command": ["sh", "-c", script],
        "processId": pid,
        "streamStdin": true,
        "streamStdoutStderr": true,
        "sandboxPolicy": {"type": "dangerFullAccess"},
    }}));
}

/// Reads stdout deltas of `pid` until `done` says the text so far is complete.
fn stdout_until(server: &mut ServerProcess, pid: &str, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    while !done(&text) {
        let (delta, _) = server
            .wait_for(DEFAULT_TIMEOUT, |m| {
                m["method"] == "command/exec/outputDelta" && m["params"]["processId"] == pid
            })
            .unwrap_or_else(|(err, seen)| panic!("no output of {pid}: {err}; {seen:?}; {text}"));
        let bytes = base64_decode(delta["params"]["deltaBase64"].as_str().unwrap());
        text.push_str(&String::from_utf8(bytes).unwrap());
    }
    text
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn pid_after(text: &str, label: &str) -> i32 {
    text.lines()
        .find_map(|line| line.strip_prefix(label)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{label} PID` line in {text:?}"))
}

/// Runs [`setsid_script`] as process `pid` and reads its processes, checking that the orphan
/// really left the leader's tree and session (re-parented to the supervisor).
fn setsid_tree(server: &mut ServerProcess, id: i64, pid: &str, tail: &str) -> Tree {
    exec_streamed(server, id, pid, &setsid_script(tail));
    let text = stdout_until(server, pid, |t| t.contains("leader ") && t.ends_with('\n'));
    let read = |pid: i32| read_proc(pid).unwrap_or_else(|| panic!("process {pid} is not running"));
    let orphan = read(pid_after(&text, "orphan "));
    let leader = read(pid_after(&text, "leader "));
    let supervisor = read(leader.ppid);
    assert_eq!(
        supervisor.comm, "agent-host",
        "the leader's parent: {supervisor:?}"
    );
    assert_eq!(
        orphan.ppid, supervisor.pid,
        "the orphan is re-parented to the supervisor"
    );
    assert_ne!(
        orphan.sid, leader.sid,
        "the orphan runs in a session of its own"
    );
    Tree {
        supervisor,
        leader,
        orphan,
    }
}

/// Waits for the answer to `command/exec` request `id`.
fn exec_result(server: &mut ServerProcess, id: i64) -> Value {
    let (response, _) = server
        .wait_for_response(&json!(id), DEFAULT_TIMEOUT)
        .unwrap_or_else(|(err, seen)| panic!("no answer to command/exec {id}: {err}; {seen:?}"));
    response
}

fn assert_none_alive(pids: &[(i32, u64)], when: &str) {
    let left: Vec<_> = pids.iter().filter(|(p, s)| alive(*p, *s)).collect();
    assert!(left.is_empty(), "{when}, still alive: {left:?}");
}

#[test]
fn terminate_kills_a_setsid_orphan_before_the_command_is_answered() {
    let sandbox = Sandbox::new();
    let mut server = started_server(&sandbox);
    let tree = setsid_tree(&mut server, 2, "tree", "sleep 600");
    let (response, _) = server.request(
        json!(3),
        "command/exec/terminate",
        json!({"processId": "tree"}),
    );
    assert_eq!(response["result"], json!({}), "{response}");
    let result = exec_result(&mut server, 2);
    assert_eq!(result["result"]["exitCode"], 137, "{result}");
    // The supervisor reports only once it has no child left: nothing of the command runs now.
    assert_none_alive(&tree.command_pids(), "at the answer");
    assert_all_gone(&tree.pids(), Duration::from_secs(10));
}

#[test]
fn what_a_command_leaves_behind_is_gone_when_it_is_answered() {
    let sandbox = Sandbox::new();
    let mut server = started_server(&sandbox);
    let tree = setsid_tree(&mut server, 2, "exits", "read line; echo bye");
    let (response, _) = server.request(
        json!(3),
        "command/exec/write",
        json!({"processId": "exits", "closeStdin": true}),
    );
    assert_eq!(response["result"], json!({}), "{response}");
    let result = exec_result(&mut server, 2);
    assert_eq!(result["result"]["exitCode"], 0, "{result}");
    assert_none_alive(&tree.command_pids(), "at the answer");
    assert_all_gone(&tree.pids(), Duration::from_secs(10));
}

#[test]
fn a_client_that_disconnects_takes_its_commands_with_it() {
    let sandbox = Sandbox::new();
    let mut server = started_server(&sandbox);
    let first = setsid_tree(&mut server, 2, "one", "sleep 600");
    let second = setsid_tree(&mut server, 3, "two", "sleep 600");
    server.close_stdin();
    let status = server.wait_exit(DEFAULT_TIMEOUT).expect("the server exits");
    assert!(status.success(), "{status:?}");
    let all: Vec<_> = first.pids().into_iter().chain(second.pids()).collect();
    assert_all_gone(&all, Duration::from_secs(10));
}

#[test]
fn a_killed_server_takes_its_commands_with_it() {
    let sandbox = Sandbox::new();
    let mut server = started_server(&sandbox);
    let tree = setsid_tree(&mut server, 2, "orphaned", "sleep 600");
    server.kill();
    server.wait_exit(DEFAULT_TIMEOUT).expect("the server dies");
    assert_all_gone(&tree.pids(), Duration::from_secs(10));
}

/// A loopback listener that counts the connections it accepted, on a thread bounded in time.
fn listener() -> (u16, std::sync::mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.read(&mut [0u8; 1]);
                    if tx.send(()).is_err() {
                        return;
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (port, rx)
}

fn connect_command(port: u16) -> Value {
    json!([
        "python3",
        "-c",
        format!(
            "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port})).close(); print('connected')\nexcept OSError as e:\n    print('refused', e.errno)"
        ),
    ])
}

#[test]
fn without_network_access_no_socket_opens_and_with_it_the_connection_is_made() {
    let sandbox = Sandbox::new();
    let mut server = started_server(&sandbox);
    let (port, accepted) = listener();
    let (denied, _) = server.request(
        json!(2),
        "command/exec",
        json!({"command": connect_command(port)}),
    );
    assert_eq!(
        denied["result"]["stdout"],
        format!("refused {}\n", libc::EPERM),
        "{denied}"
    );
    let (allowed, _) = server.request(
        json!(3),
        "command/exec",
        json!({"command": connect_command(port), "sandboxPolicy": {"type": "readOnly", "networkAccess": true}}),
    );
    assert_eq!(allowed["result"]["stdout"], "connected\n", "{allowed}");
    accepted
        .recv_timeout(DEFAULT_TIMEOUT)
        .expect("the allowed connection reached the listener");
    assert!(
        accepted.try_recv().is_err(),
        "only the allowed command connected"
    );
    let (external, _) = server.request(
        json!(4),
        "command/exec",
        json!({"command": connect_command(port), "sandboxPolicy": {"type": "externalSandbox"}}),
    );
    assert_eq!(
        external["result"]["stdout"],
        format!("refused {}\n", libc::EPERM)
    );
}

#[test]
fn read_only_reads_everywhere_and_writes_nowhere_but_the_null_devices() {
    let sandbox = Sandbox::new();
    let mut server = started_server(&sandbox);
    let readable = sandbox.root().join("readable.txt");
    std::fs::write(&readable, "content\n").unwrap();
    let elsewhere = sandbox.root().join("made-by-command");
    let script = format!(
        "cat {}; echo x > /dev/null && echo null-ok; touch {} || echo denied; mkdir {}.d || echo denied",
        readable.display(),
        elsewhere.display(),
        elsewhere.display()
    );
    let (response, _) = server.request(
        json!(2),
        "command/exec",
        json!({"command": ["sh", "-c", script]}),
    );
    assert_eq!(
        response["result"]["stdout"], "content\nnull-ok\ndenied\ndenied\n",
        "{response}"
    );
    assert!(!elsewhere.exists() && !elsewhere.with_extension("d").exists());
}

#[test]
fn stdin_a_command_does_not_read_is_bounded_and_the_server_keeps_serving() {
    let sandbox = Sandbox::new();
    let mut server = started_server(&sandbox);
    server.send_json(&json!({"id": 2, "method": "command/exec", "params": {
        "command": ["sleep", "600"], "processId": "deaf", "streamStdin": true,
        "sandboxPolicy": {"type": "dangerFullAccess"},
    }}));
    use base64::Engine;
    let chunk = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 8 * 1024 * 1024]);
    let write = |id: i64| {
        json!({"id": id, "method": "command/exec/write",
               "params": {"processId": "deaf", "deltaBase64": chunk}})
    };
    for id in [3, 4] {
        server.send_json(&write(id));
        let (ok, _) = server
            .wait_for_response(&json!(id), DEFAULT_TIMEOUT)
            .unwrap();
        assert_eq!(ok["result"], json!({}), "{ok}");
    }
    server.send_json(&write(5));
    let (full, _) = server
        .wait_for_response(&json!(5), DEFAULT_TIMEOUT)
        .unwrap();
    assert_eq!(full["error"]["code"], -32600, "{full}");
    let message = full["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("stdin of command/exec \"deaf\" is full"),
        "{message}"
    );
    let (meanwhile, _) = server.request(json!(6), "command/exec", json!({"command": ["true"]}));
    assert_eq!(meanwhile["result"]["exitCode"], 0, "{meanwhile}");
    server.request(
        json!(7),
        "command/exec/terminate",
        json!({"processId": "deaf"}),
    );
    assert_eq!(exec_result(&mut server, 2)["result"]["exitCode"], 137);
}
