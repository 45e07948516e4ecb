//! `model/list` and `account/read` for a provider that is Codex itself: the real Codex CLI's
//! own app-server is asked, and what it says is what the client gets. And an agent-host that
//! a `codex` on `PATH` runs is asked once, not in a chain.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Sandbox;
use crate::support::host::path_str;
use crate::support::mock_responses::MockResponses;
use crate::support::process::ServerProcess;
use crate::support::procs::installed_cli;
use crate::support::schema::{Conformance, TrafficChecker};

/// How long the mock serves at most (it is never asked: listing models needs no model).
const MOCK_LIFETIME: Duration = Duration::from_secs(60);

/// A `CODEX_HOME` for the real Codex: `config` as its `config.toml`.
fn codex_home(sandbox: &Sandbox, name: &str, config: &str) -> String {
    let home = sandbox.root().join(name);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("config.toml"), config).unwrap();
    path_str(&home)
}

/// An agent-host config whose default provider `codex` runs `program` with `env`.
fn codex_provider_config(sandbox: &Sandbox, program: &Path, env: &[(&str, &str)]) -> String {
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
    let path = sandbox.root().join("agent-host.toml");
    let text = format!(
        "default_provider = \"codex\"\n[providers.codex]\ncommand = {:?}\nenv = {{ {} }}\n",
        path_str(program),
        env.join(", ")
    );
    std::fs::write(&path, text).unwrap();
    path_str(&path)
}

/// The real Codex's own answers to `requests`, asked directly.
fn ask_codex(sandbox: &Sandbox, home: &str, requests: &[(&str, Value)]) -> Vec<Value> {
    let bin = installed_cli("codex-bin", "Codex CLI");
    let env = BTreeMap::from([("CODEX_HOME".to_owned(), home.to_owned())]);
    let mut codex = ServerProcess::spawn(&sandbox.spec(&bin, vec!["app-server".into()], &env));
    codex.initialize();
    requests
        .iter()
        .enumerate()
        .map(|(id, (method, params))| codex.request(json!(id), method, params.clone()).0)
        .collect()
}

/// An initialized agent-host on `config`, and the requests it was sent, for the schema check.
struct Host {
    server: ServerProcess,
    requests: Vec<(Value, String)>,
}

impl Host {
    fn start(sandbox: &Sandbox, config: &str) -> Host {
        let spec = sandbox.agent_host_spec(Some(Path::new(config)), &[], &BTreeMap::new());
        let mut server = ServerProcess::spawn(&spec);
        server.initialize();
        Host {
            server,
            requests: Vec::new(),
        }
    }

    /// The result of one request, checked against Codex's schema.
    fn result(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.requests.len() + 1);
        self.requests.push((id.clone(), method.to_owned()));
        let (response, _) = self.server.request(id, method, params);
        let conformance = Conformance::load().unwrap_or_else(|e| panic!("{e}"));
        let mut checker = TrafficChecker::new(&conformance.schemas());
        for (id, method) in &self.requests {
            checker.client_requested(id, method);
        }
        if let Err(err) = checker.server_sent(&response) {
            panic!("does not conform to the Codex schema: {response}\n{err}");
        }
        response
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{method} failed: {response}"))
    }
}

#[test]
fn a_codex_provider_lists_the_real_codex_catalog() {
    let sandbox = Sandbox::new();
    let mock = MockResponses::start(Vec::new(), MOCK_LIFETIME);
    let home = codex_home(
        &sandbox,
        "codex-home",
        &crate::real_codex::codex_config(&mock.base_url()),
    );
    let codex = ask_codex(
        &sandbox,
        &home,
        &[
            ("model/list", json!({"includeHidden": true})),
            ("model/list", json!({})),
        ],
    );
    let bin = installed_cli("codex-bin", "Codex CLI");
    let config = codex_provider_config(&sandbox, &bin, &[("CODEX_HOME", &home)]);
    let mut host = Host::start(&sandbox, &config);

    let all = host.result("model/list", json!({"includeHidden": true}));
    assert_eq!(
        all, codex[0]["result"],
        "the whole catalog, as Codex lists it"
    );
    let hidden = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["hidden"] == true);
    assert!(hidden, "the catalog has hidden models: {all}");
    let visible = host.result("model/list", json!({}));
    assert_eq!(visible, codex[1]["result"], "without the hidden ones");
    let page = host.result("model/list", json!({"cursor": "1", "limit": 2}));
    assert_eq!(
        page["data"],
        json!(visible["data"].as_array().unwrap()[1..3])
    );
    assert_eq!(page["nextCursor"], "3");
    let stderr = host.server.stderr();
    assert!(!stderr.contains("cannot ask"), "{stderr}");
}

#[test]
fn a_codex_providers_account_is_the_real_codex_account() {
    let sandbox = Sandbox::new();
    // Codex's own OpenAI provider, and no login: Codex says it needs one.
    let openai = "check_for_update_on_startup = false\n[analytics]\nenabled = false\n";
    let home = codex_home(&sandbox, "codex-home", openai);
    let codex = ask_codex(&sandbox, &home, &[("account/read", json!({}))]);
    assert_eq!(codex[0]["result"]["requiresOpenaiAuth"], true, "{codex:?}");
    let bin = installed_cli("codex-bin", "Codex CLI");
    let config = codex_provider_config(&sandbox, &bin, &[("CODEX_HOME", &home)]);
    let mut host = Host::start(&sandbox, &config);
    let account = host.result("account/read", json!({}));
    assert_eq!(account, codex[0]["result"]);
    let stderr = host.server.stderr();
    assert!(!stderr.contains("cannot ask"), "{stderr}");

    // A Codex whose provider is not OpenAI's: no account needed.
    let mock = MockResponses::start(Vec::new(), MOCK_LIFETIME);
    let home = codex_home(
        &sandbox,
        "mock-home",
        &crate::real_codex::codex_config(&mock.base_url()),
    );
    let config = codex_provider_config(&sandbox, &bin, &[("CODEX_HOME", &home)]);
    let mut host = Host::start(&sandbox, &config);
    let account = host.result("account/read", json!({"refreshToken": false}));
    assert_eq!(
        account,
        json!({"account": null, "userId": null, "requiresOpenaiAuth": false, "workspaceRouting": null})
    );
    let stderr = host.server.stderr();
    assert!(!stderr.contains("cannot ask"), "{stderr}");
}

/// A `codex` that is agent-host itself (a drop-in on `PATH`), with the same configuration:
/// asking it for its models must not make it ask its own `codex`, and so on.
#[test]
fn an_agent_host_asked_as_codex_answers_without_asking_further() {
    let sandbox = Sandbox::new();
    let log = sandbox.root().join("codex-runs.log");
    let wrapper = sandbox.root().join("codex");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            path_str(&log),
            env!("CARGO_BIN_EXE_agent-host")
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&wrapper, permissions).unwrap();
    let inner_state = path_str(&sandbox.root().join("inner-state"));
    let config_path = sandbox.root().join("agent-host.toml");
    let config_text = path_str(&config_path);
    let config = codex_provider_config(
        &sandbox,
        &wrapper,
        &[
            ("AGENT_HOST_CONFIG", &config_text),
            ("AGENT_HOST_HOME", &inner_state),
        ],
    );
    let mut host = Host::start(&sandbox, &config);
    let listed = host.result("model/list", json!({"limit": 2}));
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gpt-6.1-sol", "gpt-6-astra"], "{listed}");
    assert_eq!(listed["data"][0]["isDefault"], true);
    let runs = std::fs::read_to_string(&log).unwrap();
    assert_eq!(runs, "app-server\n", "the drop-in was asked once");
    let stderr = host.server.stderr();
    assert!(
        !stderr.contains("cannot ask"),
        "the drop-in answered: {stderr}"
    );
}
