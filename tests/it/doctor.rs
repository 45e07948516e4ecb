//! `agent-host doctor`: for each configured provider, the program found (path, version), its
//! kind, the command line of a new turn and what is missing; the exit code says whether the
//! default provider can run a turn.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::Sandbox;
use crate::support::host::path_str;
use crate::support::ops::Cli;
use crate::support::procs::installed_cli;

/// Runs `agent-host doctor ARGS…` with `env` on top of an empty environment (plus `HOME`,
/// and an `XDG_CONFIG_HOME` without a configuration, in the sandbox).
fn doctor(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Cli {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .arg("doctor")
        .args(args)
        .env_clear()
        .env("HOME", sandbox.home_dir())
        .env("XDG_CONFIG_HOME", sandbox.root().join("no-config"))
        .envs(env.iter().copied())
        .current_dir(sandbox.work_dir())
        .output()
        .expect("run agent-host doctor");
    Cli {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn json_of(cli: &Cli) -> Value {
    serde_json::from_str(&cli.stdout).unwrap_or_else(|e| panic!("{e}: {cli:?}"))
}

fn provider<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no provider {name}: {report}"))
}

#[test]
fn doctor_without_any_cli_on_path_says_so_for_each_provider_and_fails() {
    let sandbox = Sandbox::new();
    let empty = sandbox.root().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let path = [("PATH", path_str(&empty))];
    let path: Vec<(&str, &str)> = path.iter().map(|(k, v)| (*k, v.as_str())).collect();

    assert_text_says_every_program_is_missing(&sandbox, &path);

    let cli = doctor(&sandbox, &["--json"], &path);
    assert_eq!(cli.code, Some(1), "{cli:?}");
    let report = json_of(&cli);
    assert_eq!(
        (&report["defaultProvider"], &report["ready"]),
        (&json!("codex"), &json!(false))
    );
    let names: Vec<&str> = report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let builtin = "claude claude-acp codex codex-acp demo gemini gemini-acp";
    assert_eq!(names.join(" "), builtin);
    // The built-in demo backend is this executable: it can always run a turn.
    let demo = provider(&report, "demo");
    assert_eq!(
        (&demo["kind"], &demo["ready"], &demo["missing"]),
        (&json!("jsonl"), &json!(true), &json!([]))
    );
    for name in ["claude", "codex", "gemini"] {
        let checked = provider(&report, name);
        assert_eq!(
            checked,
            &json!({
                "name": name,
                "kind": name,
                "default": name == "codex",
                "command": name,
                "binary": null,
                "version": null,
                "commandLine": checked["commandLine"],
                "prompt": checked["prompt"],
                "missing": [format!("`{name}` was not found in PATH")],
                "ready": false,
            })
        );
    }
    assert_new_turn_command_lines(&report);
    assert_acp_providers_missing(&report);
}

/// The command line of a new turn of each built-in CLI, with the default policies.
fn assert_new_turn_command_lines(report: &serde_json::Value) {
    assert_eq!(
        provider(report, "codex")["commandLine"],
        json!(["codex", "app-server"])
    );
    // Kind codex: the prompt goes in the turn/start request of Codex's own protocol.
    assert_eq!(provider(report, "codex")["prompt"], "protocol");
    assert_eq!(provider(report, "claude")["prompt"], "streamJson");
    assert_eq!(
        provider(report, "gemini")["commandLine"],
        json!([
            "gemini",
            "-o",
            "stream-json",
            "--approval-mode",
            "plan",
            "--prompt={prompt}"
        ])
    );
}

/// `doctor` in text: each program missing, and the verdict last.
fn assert_text_says_every_program_is_missing(sandbox: &Sandbox, path: &[(&str, &str)]) {
    let text = doctor(sandbox, &[], path);
    assert_eq!(text.code, Some(1), "{text:?}");
    for name in ["codex", "claude", "gemini", "codex-acp", "claude-agent-acp"] {
        assert!(
            text.stdout
                .contains(&format!("  missing  `{name}` was not found in PATH\n")),
            "{name}: {text:?}"
        );
    }
    assert!(
        text.stdout
            .ends_with("the default provider codex cannot run a turn\n"),
        "{text:?}"
    );
}

/// The built-in ACP agents of a report made without any CLI: started as configured, the prompt
/// in `session/prompt`, each program missing.
fn assert_acp_providers_missing(report: &Value) {
    for (name, command, args) in [
        ("gemini-acp", "gemini", json!(["--acp"])),
        ("codex-acp", "codex-acp", json!([])),
        ("claude-acp", "claude-agent-acp", json!([])),
    ] {
        let checked = provider(report, name);
        let mut command_line = vec![json!(command)];
        command_line.extend(args.as_array().unwrap().iter().cloned());
        assert_eq!(
            checked,
            &json!({
                "name": name,
                "kind": "acp",
                "default": false,
                "command": command,
                "binary": null,
                "version": null,
                "commandLine": command_line,
                "prompt": "sessionPrompt",
                "missing": [format!("`{command}` was not found in PATH")],
                "ready": false,
            })
        );
    }
}

/// The first line `bin --version` prints, asked directly.
fn version_of(bin: &Path) -> String {
    let output = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success(), "{bin:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn doctor_reports_the_versions_of_the_installed_clis_and_judges_by_the_default_provider() {
    let sandbox = Sandbox::new();
    let clis = [
        ("codex", installed_cli("codex-bin", "Codex CLI")),
        ("claude", installed_cli("claude-bin", "Claude Code")),
        ("gemini", installed_cli("gemini-bin", "Gemini CLI")),
    ];
    let mut config = String::new();
    for (name, bin) in &clis {
        config.push_str(&format!(
            "[providers.{name}]\ncommand = {:?}\n",
            path_str(bin)
        ));
    }
    config.push_str(&format!(
        "[providers.fake]\nkind = \"jsonl\"\ncommand = {:?}\nargs = [\"{{prompt}}\"]\n\
         [providers.absent]\nkind = \"claude\"\ncommand = \"/nonexistent/agent\"\n",
        env!("CARGO_BIN_EXE_fake-agent")
    ));
    let file = sandbox.root().join("doctor.toml");
    std::fs::write(&file, config).unwrap();
    let file = path_str(&file);
    // Our PATH: Gemini CLI is a Node program started through `env node`.
    let path = std::env::var("PATH").unwrap();
    let env = [("PATH", path.as_str())];

    let cli = doctor(&sandbox, &["--json", "--config", &file], &env);
    assert_eq!(cli.code, Some(0), "{cli:?}");
    let report = json_of(&cli);
    assert_eq!(report["ready"], true, "{report}");
    for (name, bin) in &clis {
        let checked = provider(&report, name);
        assert_eq!(checked["binary"], path_str(bin), "{checked}");
        assert_eq!(checked["version"], version_of(bin), "{checked}");
        assert_eq!(checked["missing"], json!([]), "{checked}");
        assert_eq!(checked["ready"], true, "{checked}");
        assert_eq!(checked["commandLine"][0], path_str(bin), "{checked}");
    }
    let fake = provider(&report, "fake");
    assert_eq!(
        (&fake["kind"], &fake["version"], &fake["ready"]),
        (&json!("jsonl"), &Value::Null, &json!(true)),
        "{fake}"
    );
    assert_eq!(
        fake["commandLine"],
        json!([env!("CARGO_BIN_EXE_fake-agent"), "{prompt}"])
    );
    let absent = provider(&report, "absent");
    assert_eq!(
        (&absent["missing"], &absent["ready"]),
        (&json!(["/nonexistent/agent does not exist"]), &json!(false)),
        "{absent}"
    );

    // The same providers, judged by another default.
    let broken = doctor(
        &sandbox,
        &["--config", &file, "-c", "default_provider=\"absent\""],
        &env,
    );
    assert_eq!(broken.code, Some(1), "{broken:?}");
    assert!(
        broken
            .stdout
            .ends_with("the default provider absent cannot run a turn\n"),
        "{broken:?}"
    );
    let bad = doctor(
        &sandbox,
        &["--config", &file, "-c", "default_provider=\"nope\""],
        &env,
    );
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert_eq!(bad.stdout, "");
    assert_eq!(bad.stderr.lines().count(), 1, "{bad:?}");
    assert!(bad.stderr.contains("default_provider"), "{bad:?}");
}
