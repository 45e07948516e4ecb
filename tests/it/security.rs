//! Security: each protection has a test here that fails when the protection is removed.
//!
//! - Owner-only: a state directory the server makes, every directory and file in it after a
//!   real turn, and the runner's control socket (the server runs under `umask 0`, so a file
//!   made without an explicit mode would show it).
//! - Path traversal: every protocol method that takes a thread or turn id, and every command
//!   that takes one, refuses ids such as `../x`, `a/b`, an absolute path, a NUL or a very long
//!   string with a precise error; the server serves on; nothing appears outside the state
//!   directory.
//! - Planted links: a link planted in the state directory (a thread's record, a thread's
//!   directory, a thread's `turns`) is never followed out of it.
//! - Prompts never pass through a shell, as an argument or on stdin.
//! - A provider's `env_inherit`: with a list, a secret in the server's environment does not
//!   reach the backend; without one, it does.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::Sandbox;
use crate::support::host::{Host, path_str};
use crate::support::ops::{Cli, agent_host};

/// The directory `outside` next to the state directory, made empty: where a planted link
/// or a hostile id may try to reach.
fn outside_dir(host: &Host) -> PathBuf {
    let outside = host.sandbox.root().join("outside");
    std::fs::create_dir(&outside).unwrap();
    outside
}

/// Ids that try to leave the threads directory, or to break the code that makes paths.
fn traversal_ids(outside: &Path) -> Vec<String> {
    vec![
        "..".to_owned(),
        "../x".to_owned(),
        "../../../outside".to_owned(),
        "a/b".to_owned(),
        "./.".to_owned(),
        path_str(outside),
        format!("{}/../outside", path_str(outside)),
        "0190a0a0-0000-7000-8000-000000000000/../x".to_owned(),
        "x\0y".to_owned(),
        "\0".to_owned(),
        "%2e%2e%2fx".to_owned(),
        "a".repeat(10_000),
    ]
}

/// Every file under `root` outside `skip` (paths relative to `root`), with its contents:
/// what must not change while the server is fed hostile ids.
fn snapshot(root: &Path, skip: &[&str]) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if skip.iter().any(|s| relative.starts_with(s)) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path.clone());
                found.insert(relative, b"<dir>".to_vec());
            } else if meta.is_file() {
                found.insert(relative, std::fs::read(&path).unwrap());
            } else {
                found.insert(relative, format!("{:?}", meta.file_type()).into_bytes());
            }
        }
    }
    found
}

/// `sh -c 'umask 0; exec agent-host app-server …'`: a server that makes every file with the
/// widest mode it does not narrow itself.
fn wide_umask_spec(sandbox: &Sandbox, config: &Path) -> crate::support::SpawnSpec {
    let leading: Vec<OsString> = vec![
        "-c".into(),
        "umask 0; exec \"$0\" \"$@\"".into(),
        env!("CARGO_BIN_EXE_agent-host").into(),
    ];
    sandbox.app_server_spec(
        Path::new("/bin/sh"),
        &leading,
        Some(config),
        &[],
        &BTreeMap::new(),
    )
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn state_dir_turn_dirs_records_and_the_runner_socket_are_owner_only() {
    let sandbox = Sandbox::new();
    // The server makes the state directory itself.
    std::fs::remove_dir(sandbox.state_dir()).unwrap();
    Host::write_scripts(
        &sandbox,
        &[("held", "start\nwait-file go\nmessage done\ncomplete\n")],
    );
    let config = sandbox.root().join("turns.toml");
    let spec = wide_umask_spec(&sandbox, &config);
    let mut host = Host::start_with_spec(sandbox, &spec, "fake", json!({}), Value::Null);
    let turn = host.start_script("held", json!({}));
    // While the turn runs, its runner's control socket exists.
    let socket = PathBuf::from(
        host.process_record(&turn)["socket"]
            .as_str()
            .expect("process.json names the socket"),
    );
    let meta = std::fs::symlink_metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket(), "{}", socket.display());
    let socket_mode = mode_of(&socket);
    assert_eq!(
        socket_mode & 0o077,
        0,
        "the control socket {} has mode {socket_mode:o}",
        socket.display()
    );
    let socket_dir = socket.parent().unwrap();
    assert_eq!(
        mode_of(socket_dir) & 0o077,
        0,
        "the socket's directory {} has mode {:o}",
        socket_dir.display(),
        mode_of(socket_dir)
    );
    host.release("go");
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    // Everything the server and the runner made: owner-only, no link.
    let state = host.sandbox.state_dir();
    assert_eq!(mode_of(&state), 0o700, "the state directory");
    let mut seen = BTreeSet::new();
    let mut pending = vec![state.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = mode_of(&path);
            let shown = path.strip_prefix(&state).unwrap().display().to_string();
            if meta.is_dir() {
                assert_eq!(mode, 0o700, "{shown} has mode {mode:o}");
                pending.push(path.clone());
            } else if meta.file_type().is_socket() {
                assert_eq!(mode & 0o077, 0, "{shown} has mode {mode:o}");
            } else {
                assert!(meta.is_file(), "{shown} is a {:?}", meta.file_type());
                assert_eq!(mode, 0o600, "{shown} has mode {mode:o}");
            }
            seen.insert(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    for wanted in [
        "threads",
        "thread.json",
        "turns",
        "spec.json",
        "turn.json",
        "process.json",
        "exit.json",
        "events.jsonl",
        "backend.stdout",
        "runner.log",
        "index.sqlite",
    ] {
        assert!(seen.contains(wanted), "{wanted} not among {seen:?}");
    }
}

/// Every method that takes a thread id, with the least params that reach the id's check;
/// `ID` stands for the id.
fn thread_id_requests(cwd: &str) -> Vec<(&'static str, Value)> {
    let text = json!([{"type": "text", "text": "hi"}]);
    vec![
        ("thread/resume", json!({"threadId": "ID"})),
        ("thread/fork", json!({"threadId": "ID"})),
        (
            "thread/read",
            json!({"threadId": "ID", "includeTurns": true}),
        ),
        ("thread/unsubscribe", json!({"threadId": "ID"})),
        ("thread/name/set", json!({"threadId": "ID", "name": "n"})),
        ("thread/archive", json!({"threadId": "ID"})),
        ("thread/unarchive", json!({"threadId": "ID"})),
        ("thread/delete", json!({"threadId": "ID"})),
        (
            "thread/goal/set",
            json!({"threadId": "ID", "objective": "o"}),
        ),
        ("thread/goal/get", json!({"threadId": "ID"})),
        ("thread/goal/clear", json!({"threadId": "ID"})),
        (
            "thread/memoryMode/set",
            json!({"threadId": "ID", "mode": "disabled"}),
        ),
        (
            "turn/start",
            json!({"threadId": "ID", "input": text, "cwd": cwd}),
        ),
        (
            "turn/steer",
            json!({"threadId": "ID", "expectedTurnId": "ID", "input": text}),
        ),
        ("turn/interrupt", json!({"threadId": "ID", "turnId": "ID"})),
        (
            "review/start",
            json!({"threadId": "ID", "target": {"type": "uncommittedChanges"}}),
        ),
        ("thread/list", json!({"cursor": "ID"})),
    ]
}

/// `template` with every string `"ID"` replaced by `id`, and `"THREAD"` by `thread`.
fn fill(template: &Value, id: &str, thread: &str) -> Value {
    match template {
        Value::String(s) if s == "ID" => json!(id),
        Value::String(s) if s == "THREAD" => json!(thread),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, id, thread)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, id, thread)).collect()),
        other => other.clone(),
    }
}

/// Checks a response is a precise JSON-RPC error about the id: `-32600` or `-32602`, a
/// message under 1 KiB (plus the cut mark) that says what was wrong, and no result.
fn assert_id_refused(response: &Value, method: &str, id: &str, words: &[&str]) {
    let shown: String = id.chars().take(40).collect();
    let error = &response["error"];
    assert!(
        response.get("result").is_none() && error.is_object(),
        "{method} accepted the id {shown:?}: {response}"
    );
    let code = error["code"].as_i64().unwrap();
    assert!(
        code == -32600 || code == -32602,
        "{method} {shown:?}: {response}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.len() <= 1100,
        "{method}: a message of {} bytes",
        message.len()
    );
    assert!(
        words.iter().any(|w| message.contains(w)),
        "{method} {shown:?}: {message:?} says none of {words:?}"
    );
}

#[test]
fn ids_that_try_path_traversal_are_refused_by_every_method_that_takes_one() {
    let sandbox = Sandbox::new();
    Host::write_scripts(
        &sandbox,
        &[("held", "start\nwait-file go\nmessage done\ncomplete\n")],
    );
    let config = sandbox.root().join("turns.toml");
    let spec = sandbox.agent_host_spec(Some(&config), &[], &BTreeMap::new());
    // The experimental methods (goals, memory mode) check ids only for a client that opted in.
    let experimental = json!({"experimentalApi": true});
    let mut host = Host::start_with_spec(sandbox, &spec, "fake", json!({}), experimental);
    let outside = outside_dir(&host);
    std::fs::write(outside.join("thread.json"), "{}").unwrap();
    let cwd = path_str(&host.sandbox.work_dir());
    // A running turn, so that a turn id is checked against it.
    let turn = host.start_script("held", json!({}));
    host.until_message("the turn's start", |m| m["method"] == "turn/started");
    let skip = ["state", "scripts"];
    let before = snapshot(host.sandbox.root(), &skip);
    let thread = host.thread_id.clone();
    for id in traversal_ids(&outside) {
        for (method, template) in thread_id_requests(&cwd) {
            let response = host.request(method, fill(&template, &id, &thread));
            let words = match method {
                "thread/fork" => vec!["invalid session id"],
                "thread/list" => vec!["invalid cursor"],
                _ => vec!["invalid thread id"],
            };
            assert_id_refused(&response, method, &id, &words);
        }
        // A good thread id with a hostile turn id: compared with the running turn's.
        let text = json!([{"type": "text", "text": "hi"}]);
        for (method, params) in [
            ("turn/interrupt", json!({"threadId": thread, "turnId": id})),
            (
                "turn/steer",
                json!({"threadId": thread, "expectedTurnId": id, "input": text}),
            ),
        ] {
            let response = host.request(method, params);
            assert_id_refused(&response, method, &id, &["expected active turn id"]);
        }
        // A fork through a turn that is none of the thread's: refused, and no fork is made.
        let params = json!({"threadId": thread, "lastTurnId": id});
        let response = host.request("thread/fork", params);
        assert_id_refused(&response, "thread/fork", &id, &["turn not found"]);
    }
    assert_eq!(
        snapshot(host.sandbox.root(), &skip),
        before,
        "something changed outside the state directory"
    );
    let state_entries: BTreeSet<String> = std::fs::read_dir(host.sandbox.state_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        state_entries
            .iter()
            .all(|name| name == "threads" || name.starts_with("index.sqlite")),
        "{state_entries:?}"
    );
    // The server serves on with the one thread (no fork was made), and none of the hostile
    // turn ids touched the running turn.
    let loaded = host.request("thread/loaded/list", json!({}));
    assert_eq!(loaded["result"]["data"], json!([thread]), "{loaded}");
    host.release("go");
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    // A real turn of the thread is taken.
    let forked = host.request(
        "thread/fork",
        json!({"threadId": thread, "lastTurnId": turn}),
    );
    assert_eq!(
        forked["result"]["thread"]["turns"][0]["id"], turn,
        "{forked}"
    );
}

/// Runs `agent-host ARGS…` with the host's configuration, stdin closed.
fn cli(host: &Host, args: &[&str]) -> Cli {
    let config = host.sandbox.root().join("turns.toml");
    let mut all: Vec<&str> = args.to_vec();
    // The commands that run a server of their own read the configuration.
    if ["resume", "unarchive", "run"].contains(&args[0]) {
        all.extend(["--config", config.to_str().unwrap()]);
    }
    agent_host_in(&host.sandbox, &all)
}

/// `agent-host ARGS… --state-dir STATE`, run in the sandbox's work directory (so that `..`
/// names the sandbox's root, where `outside` is).
fn agent_host_in(sandbox: &Sandbox, args: &[&str]) -> Cli {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(args)
        .arg("--state-dir")
        .arg(sandbox.state_dir())
        .current_dir(sandbox.work_dir())
        .env("HOME", sandbox.home_dir())
        .env_remove("AGENT_HOST_HOME")
        .env_remove("AGENT_HOST_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run agent-host");
    Cli {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn commands_refuse_ids_that_try_path_traversal_with_exit_code_2() {
    let mut host = Host::fake(&[("quick", "start\nmessage ok\ncomplete\n")]);
    let turn = host.start_script("quick", json!({}));
    host.until_completed(&turn);
    let outside = outside_dir(&host);
    std::fs::write(outside.join("thread.json"), "{}").unwrap();
    let skip = ["state", "scripts", "home"];
    let before = snapshot(host.sandbox.root(), &skip);
    // A command line cannot carry a NUL.
    let ids: Vec<String> = traversal_ids(&outside)
        .into_iter()
        .filter(|id| !id.contains('\0'))
        .chain(["../outside".to_owned()])
        .collect();
    for id in &ids {
        let id = id.as_str();
        for args in [
            vec!["kill", id],
            vec!["logs", id],
            vec!["logs", "--json", id],
            vec!["rm", id],
            vec!["rm", "--force", id],
            vec!["resume", id],
            vec!["resume", id, "hello"],
            vec!["unarchive", id],
            vec!["run", "--continue", id, "hello"],
        ] {
            let ran = cli(&host, &args);
            let shown: Vec<String> = args.iter().map(|a| a.chars().take(40).collect()).collect();
            assert_eq!(ran.code, Some(2), "{shown:?}: {ran:?}");
            let last = ran.stderr.lines().last().unwrap_or_default();
            assert!(
                last.starts_with("agent-host") && last.len() < 1100,
                "{shown:?}: {ran:?}"
            );
            assert!(
                [
                    "invalid thread id",
                    "not a thread or turn id",
                    "neither a turn directory nor a turn id",
                    "not a turn's",
                ]
                .iter()
                .any(|w| last.contains(w)),
                "{shown:?}: {last}"
            );
        }
    }
    assert_eq!(
        snapshot(host.sandbox.root(), &skip),
        before,
        "something changed outside the state directory"
    );
    // The thread is still there and whole.
    let read = host.read_thread();
    assert_eq!(read["result"]["thread"]["turns"][0]["id"], turn, "{read}");
}

#[test]
fn prompts_reach_the_backend_verbatim_and_never_pass_through_a_shell() {
    let sandbox = Sandbox::new();
    let scripts = sandbox.root().join("scripts");
    Host::write_config(
        &sandbox,
        &[
            ("echo", "start\necho-prompt\ncomplete\n"),
            ("stdin", "start\nread-stdin\ncomplete\n"),
        ],
        "",
    );
    // A second provider that gets the prompt on its stdin.
    let config = sandbox.root().join("turns.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}[providers.piped]\nkind = \"jsonl\"\ncommand = {command:?}\nargs = [\"--script\", {script:?}]\nprompt_via = \"stdin\"\n",
            command = env!("CARGO_BIN_EXE_fake-agent"),
            script = path_str(&scripts.join("stdin.txt")),
        ),
    )
    .unwrap();
    let mut host = Host::start(sandbox, &config, "fake", json!({}));
    let marks = host.sandbox.root().join("marks");
    let mark = |n: u32| path_str(&marks.join(format!("x{n}")));
    let hostile = format!(
        "$(touch {}) `touch {}`; touch {} | touch {} && touch {} > {} ${{IFS}}'\"\\ $HOME *",
        mark(1),
        mark(2),
        mark(3),
        mark(4),
        mark(5),
        mark(6)
    );
    std::fs::create_dir(&marks).unwrap();
    // As an argument (`{prompt}`)...
    let prompt = format!("script:echo\n{hostile}");
    let (_, messages) = host.completed_turn(&prompt);
    let texts: Vec<&str> = crate::support::host::completed_items(&messages)
        .into_iter()
        .filter(|item| item["type"] == "agentMessage")
        .filter_map(|item| item["text"].as_str())
        .collect();
    assert_eq!(texts, [prompt.as_str()], "the prompt as the backend got it");
    // ... and on stdin, on a thread of the second provider.
    let cwd = path_str(&host.sandbox.work_dir());
    let started = host.request(
        "thread/start",
        json!({"cwd": cwd, "modelProvider": "piped"}),
    );
    let piped = started["result"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = host.request(
        "turn/start",
        json!({"threadId": piped, "input": [{"type": "text", "text": hostile}]}),
    );
    let turn = response["result"]["turn"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let messages = host.until_completed(&turn);
    let texts: Vec<&str> = crate::support::host::completed_items(&messages)
        .into_iter()
        .filter(|item| item["type"] == "agentMessage")
        .filter_map(|item| item["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        [hostile.as_str()],
        "the prompt on the backend's stdin"
    );
    let made: Vec<_> = std::fs::read_dir(&marks).unwrap().collect();
    assert!(made.is_empty(), "a shell ran the prompt: {made:?}");
}

/// A configuration with the fake provider (which inherits everything) and `listed`, the same
/// backend with `env_inherit`.
fn env_policy_host(secret: &str) -> Host {
    let sandbox = Sandbox::new();
    let script = "start\necho-env AGENT_HOST_TEST_SECRET\necho-env AGENT_HOST_TEST_LISTED\necho-env FAKE_SECRET\necho-env AGENT_HOST_TURN\necho-env AGENT_HOST_SANDBOX\necho-env AGENT_HOST_PROVIDER_ENV\ncomplete\n";
    Host::write_config(&sandbox, &[("env", script)], "");
    let config = sandbox.root().join("turns.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}[providers.listed]\nkind = \"jsonl\"\ncommand = {command:?}\nargs = [\"{{prompt}}\"]\n\
             env_inherit = [\"PATH\", \"HOME\", \"AGENT_HOST_TEST_LISTED\", \"AGENT_HOST_PROVIDER_ENV\"]\n\
             [providers.listed.env]\nFAKE_AGENT_SCRIPT_DIR = {scripts:?}\nFAKE_SECRET = \"from-env\"\n",
            command = env!("CARGO_BIN_EXE_fake-agent"),
            scripts = path_str(&sandbox.root().join("scripts")),
        ),
    )
    .unwrap();
    let env = BTreeMap::from([
        ("AGENT_HOST_TEST_SECRET".to_owned(), secret.to_owned()),
        (
            "AGENT_HOST_TEST_LISTED".to_owned(),
            "listed-value".to_owned(),
        ),
    ]);
    Host::start_with_env(sandbox, &config, "fake", json!({}), &env)
}

/// The agent's messages of one `script:env` turn on `thread`.
fn env_seen(host: &mut Host, thread: &str) -> (String, Vec<String>) {
    let response = host.request(
        "turn/start",
        json!({"threadId": thread, "input": [{"type": "text", "text": "script:env"}]}),
    );
    let turn = response["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{response}"))
        .to_owned();
    let messages = host.until_completed(&turn);
    let texts = crate::support::host::completed_items(&messages)
        .into_iter()
        .filter(|item| item["type"] == "agentMessage")
        .filter_map(|item| item["text"].as_str().map(str::to_owned))
        .collect();
    (turn, texts)
}

#[test]
fn with_env_inherit_a_secret_of_the_servers_environment_does_not_reach_the_backend() {
    let secret = "sk-server-environment-secret-77c1";
    let mut host = env_policy_host(secret);
    // By default the backend inherits everything: the user's API keys reach the agent.
    let thread = host.thread_id.clone();
    let (turn, seen) = env_seen(&mut host, &thread);
    assert_eq!(
        seen,
        [
            secret.to_owned(),
            "listed-value".to_owned(),
            crate::support::host::PROVIDER_SECRET.to_owned(),
            turn.clone(),
            "read-only".to_owned(),
            "unset AGENT_HOST_PROVIDER_ENV".to_owned(),
        ]
    );
    // With a list, only the listed variables; what agent-host sets comes on top (the
    // provider's `env`, the turn's marker, the sandbox), and the runner's own channel stays
    // out even when listed.
    let cwd = path_str(&host.sandbox.work_dir());
    let started = host.request(
        "thread/start",
        json!({"cwd": cwd, "modelProvider": "listed"}),
    );
    let listed = started["result"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (turn, seen) = env_seen(&mut host, &listed);
    assert_eq!(
        seen,
        [
            "unset AGENT_HOST_TEST_SECRET".to_owned(),
            "listed-value".to_owned(),
            "from-env".to_owned(),
            turn.clone(),
            "read-only".to_owned(),
            "unset AGENT_HOST_PROVIDER_ENV".to_owned(),
        ]
    );
    // The list is in the turn's spec, the secret in no file of the turn.
    let dir = host
        .sandbox
        .state_dir()
        .join("threads")
        .join(&listed)
        .join("turns")
        .join(&turn);
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("spec.json")).unwrap()).unwrap();
    assert_eq!(
        spec["provider"]["envInherit"],
        json!([
            "PATH",
            "HOME",
            "AGENT_HOST_TEST_LISTED",
            "AGENT_HOST_PROVIDER_ENV"
        ])
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read(&path).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(secret),
            "{} holds the secret",
            path.display()
        );
    }
}

/// A host whose thread has one completed turn, and its server stopped: the state directory
/// as a crash or an operator leaves it, ready for links to be planted.
fn stopped_host_with_a_turn() -> Host {
    let mut host = Host::fake(&[("quick", "start\nmessage ok\ncomplete\n")]);
    let turn = host.start_script("quick", json!({}));
    host.until_completed(&turn);
    host.server.kill();
    host
}

/// A server on the host's sandbox, initialized.
fn restarted(host: &Host) -> crate::support::ServerProcess {
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    server
}

/// Sends `requests` (method, params) to `server`; each must be answered, whatever the answer.
fn answered(server: &mut crate::support::ServerProcess, requests: &[(&str, Value)]) -> Vec<Value> {
    requests
        .iter()
        .enumerate()
        .map(|(n, (method, params))| server.request(json!(100 + n), method, params.clone()).0)
        .collect()
}

/// The server still answers after what was planted: it lists its loaded threads.
fn assert_still_serves(server: &mut crate::support::ServerProcess) {
    let listed = server.request(json!(1), "thread/loaded/list", json!({})).0;
    assert!(listed.get("result").is_some(), "{listed}");
}

/// What a client may do to the host's thread that changes its files.
fn writing_requests(host: &Host) -> Vec<(&'static str, Value)> {
    let thread = host.thread_id.as_str();
    let cwd = path_str(&host.sandbox.work_dir());
    vec![
        ("thread/resume", json!({"threadId": thread})),
        (
            "thread/read",
            json!({"threadId": thread, "includeTurns": true}),
        ),
        (
            "thread/name/set",
            json!({"threadId": thread, "name": "renamed"}),
        ),
        (
            "turn/start",
            json!({"threadId": thread, "cwd": cwd,
                   "input": [{"type": "text", "text": "script:quick"}]}),
        ),
        ("thread/archive", json!({"threadId": thread})),
        ("thread/unarchive", json!({"threadId": thread})),
        ("thread/delete", json!({"threadId": thread})),
    ]
}

#[test]
fn a_record_planted_as_a_link_is_replaced_never_written_through() {
    let host = stopped_host_with_a_turn();
    let thread_dir = host.thread_dir();
    let outside = outside_dir(&host);
    std::fs::rename(thread_dir.join("thread.json"), outside.join("thread.json")).unwrap();
    std::os::unix::fs::symlink(outside.join("thread.json"), thread_dir.join("thread.json"))
        .unwrap();
    let before = snapshot(&outside, &[]);
    let mut server = restarted(&host);
    let requests = writing_requests(&host);
    // Everything but the deletion, so that the record is written in place of the link.
    let responses = answered(&mut server, &requests[..requests.len() - 1]);
    let renamed = &responses[2];
    assert!(renamed.get("result").is_some(), "{renamed}");
    assert_eq!(
        snapshot(&outside, &[]),
        before,
        "the file outside was written"
    );
    let meta = std::fs::symlink_metadata(thread_dir.join("thread.json")).unwrap();
    assert!(meta.is_file(), "the record is a file of its own now");
    assert_still_serves(&mut server);
}

#[test]
fn a_thread_directory_planted_as_a_link_is_never_followed() {
    let host = stopped_host_with_a_turn();
    let threads = host.sandbox.state_dir().join("threads");
    let outside = outside_dir(&host);
    // The thread's whole directory moved out, a link in its place.
    std::fs::rename(threads.join(&host.thread_id), outside.join(&host.thread_id)).unwrap();
    std::os::unix::fs::symlink(outside.join(&host.thread_id), threads.join(&host.thread_id))
        .unwrap();
    let before = snapshot(&outside, &[]);
    let mut server = restarted(&host);
    let responses = answered(&mut server, &writing_requests(&host));
    assert_eq!(
        snapshot(&outside, &[]),
        before,
        "something was written through the link: {responses:#?}"
    );
    assert_still_serves(&mut server);
    drop(server);
    // The operator's commands do not follow it either.
    for args in [
        vec!["logs", host.thread_id.as_str()],
        vec!["rm", "--force", host.thread_id.as_str()],
        vec!["gc", "--older-than", "0s"],
    ] {
        let _ = agent_host(&host.sandbox.state_dir(), &args);
    }
    assert_eq!(
        snapshot(&outside, &[]),
        before,
        "a command wrote through the link"
    );
}

#[test]
fn a_turns_directory_planted_as_a_link_is_never_followed() {
    let host = stopped_host_with_a_turn();
    let thread_dir = host.thread_dir();
    let outside = host.sandbox.root().join("outside");
    std::fs::rename(thread_dir.join("turns"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, thread_dir.join("turns")).unwrap();
    let before = snapshot(&outside, &[]);
    let mut server = restarted(&host);
    let responses = answered(&mut server, &writing_requests(&host));
    let started = &responses[3];
    assert!(
        started["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("symbolic link")),
        "turn/start: {started}"
    );
    assert_eq!(
        snapshot(&outside, &[]),
        before,
        "something was written through the link: {responses:#?}"
    );
}

#[test]
fn a_temporary_file_planted_as_a_link_is_not_written_through() {
    let host = stopped_host_with_a_turn();
    let thread_dir = host.thread_dir();
    let outside = outside_dir(&host);
    std::fs::write(outside.join("victim"), "kept").unwrap();
    let mut server = Host::spawn(&host.sandbox);
    // The name the server's next write of the record goes through first.
    let temp = thread_dir.join(format!("thread.json.{}.tmp", server.pid()));
    std::os::unix::fs::symlink(outside.join("victim"), &temp).unwrap();
    server.initialize();
    let requests = writing_requests(&host);
    let responses = answered(&mut server, &requests[..3]);
    assert_eq!(
        std::fs::read_to_string(outside.join("victim")).unwrap(),
        "kept",
        "written through the link: {responses:#?}"
    );
    let record = std::fs::symlink_metadata(thread_dir.join("thread.json")).unwrap();
    assert!(
        record.is_file(),
        "the record became {:?}",
        record.file_type()
    );
}

#[test]
fn lock_files_planted_as_links_are_not_followed() {
    let host = stopped_host_with_a_turn();
    let thread_dir = host.thread_dir();
    let outside = outside_dir(&host);
    for name in ["thread.lock", "loaded.lock"] {
        let _ = std::fs::remove_file(thread_dir.join(name));
        std::os::unix::fs::symlink(outside.join(name), thread_dir.join(name)).unwrap();
    }
    let mut server = restarted(&host);
    let responses = answered(&mut server, &writing_requests(&host));
    let made: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
    assert!(made.is_empty(), "made outside: {made:?}; {responses:#?}");
    assert_still_serves(&mut server);
}
