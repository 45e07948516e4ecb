//! The client's sandbox and approval policy as an ACP session mode.
//!
//! ACP has no sandbox of its own; agents offer session modes instead (`session/new` answers
//! with `modes.availableModes` and `modes.currentModeId`), and the common agents name theirs
//! alike: codex-acp `read-only`, `auto`, `full-access`; Gemini CLI `default`, `autoEdit`,
//! `yolo`, `plan`; claude-agent-acp `default`, `acceptEdits`, `plan`, `auto` (its classifier
//! decides, asking nobody; never chosen) and, unless it runs as root, `bypassPermissions`. The
//! mode is the first of the turn's candidates that the agent offers:
//!
//! | sandbox | approval policy | candidates |
//! |---|---|---|
//! | `read-only` | any | `read-only`, `plan` |
//! | `workspace-write`, `danger-full-access`, external | `untrusted` | `read-only`, `default` |
//! | `workspace-write` | `on-request`, `never` | `acceptEdits`, `auto`, `default` |
//! | `danger-full-access`, external | `on-request` | `full-access`, `default` |
//! | `danger-full-access`, external | `never` | `full-access`, `yolo`, `bypassPermissions` |
//!
//! A read-only sandbox that the agent has no mode for refuses the turn before its prompt (the
//! agent would run with more permission than asked). Otherwise, without a matching mode, the
//! agent keeps its own mode, with a warning. What the agent asks permission for then goes to
//! the client, or with `never` is answered by the runner (`backend::acp`).

use serde_json::Value;

use super::super::permissions::{Approval, Permissions, Sandbox};

/// What to do with the session's mode.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Choice {
    /// Keep the current mode (with a warning when the sandbox could not be matched).
    Keep(Option<String>),
    /// `session/set_mode` to this mode.
    Set(String),
    /// Fail the turn with this message.
    Refuse(String),
}

/// The session modes that hold `asked`, best first.
fn candidates(asked: &Permissions) -> &'static [&'static str] {
    match (&asked.sandbox, asked.approval) {
        (Sandbox::ReadOnly, _) => &["read-only", "plan"],
        (_, Approval::Untrusted) => &["read-only", "default"],
        // claude-agent-acp's `auto` is another thing than codex-acp's: a classifier that
        // decides without asking; its `acceptEdits` comes first.
        (Sandbox::WorkspaceWrite { .. }, _) => &["acceptEdits", "auto", "default"],
        (Sandbox::DangerFullAccess | Sandbox::External, Approval::Never) => {
            &["full-access", "yolo", "bypassPermissions"]
        }
        (Sandbox::DangerFullAccess | Sandbox::External, _) => &["full-access", "default"],
    }
}

/// The session mode for `asked` among the agent's `modes` (`SessionModeState`).
pub(super) fn choose(asked: &Permissions, modes: Option<&Value>) -> Choice {
    let offered: Vec<&str> = modes
        .and_then(|m| m.get("availableModes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|mode| mode.get("id").and_then(Value::as_str))
        .collect();
    let current = modes
        .and_then(|m| m.get("currentModeId"))
        .and_then(Value::as_str);
    match candidates(asked).iter().find(|c| offered.contains(c)) {
        Some(mode) if Some(*mode) == current => Choice::Keep(None),
        Some(mode) => Choice::Set((*mode).to_owned()),
        None => {
            let offered = if offered.is_empty() {
                "it offers no session modes".to_owned()
            } else {
                format!("its session modes are {}", offered.join(", "))
            };
            let sandbox = asked.sandbox.as_str();
            let message =
                format!("the agent has no session mode for sandbox {sandbox} ({offered})");
            match asked.sandbox {
                Sandbox::ReadOnly => Choice::Refuse(format!(
                    "{message}: refusing to run it with more permission"
                )),
                Sandbox::WorkspaceWrite { .. } | Sandbox::DangerFullAccess | Sandbox::External => {
                    Choice::Keep(Some(format!("{message}: it runs in its own mode")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn modes(ids: &[&str], current: &str) -> Value {
        let available: Vec<Value> = ids.iter().map(|id| json!({"id": id, "name": id})).collect();
        json!({"availableModes": available, "currentModeId": current})
    }

    fn asked(approval: Approval, sandbox: Sandbox) -> Permissions {
        Permissions { approval, sandbox }
    }

    fn workspace() -> Sandbox {
        Sandbox::WorkspaceWrite {
            extra_roots: Vec::new(),
            network: false,
        }
    }

    #[test]
    fn each_setting_picks_the_first_offered_candidate() {
        let codex = modes(&["read-only", "auto", "full-access"], "read-only");
        let gemini = modes(&["default", "autoEdit", "yolo", "plan"], "default");
        let claude = modes(
            &[
                "default",
                "acceptEdits",
                "plan",
                "auto",
                "bypassPermissions",
            ],
            "auto",
        );
        let set = |mode: &str| Choice::Set(mode.to_owned());
        let on_request = |sandbox| asked(Approval::OnRequest, sandbox);
        assert_eq!(
            choose(&on_request(Sandbox::ReadOnly), Some(&codex)),
            Choice::Keep(None)
        );
        assert_eq!(
            choose(&on_request(Sandbox::ReadOnly), Some(&gemini)),
            set("plan")
        );
        assert_eq!(choose(&on_request(workspace()), Some(&codex)), set("auto"));
        assert_eq!(
            choose(&on_request(workspace()), Some(&gemini)),
            Choice::Keep(None)
        );
        assert_eq!(
            choose(&on_request(workspace()), Some(&claude)),
            set("acceptEdits")
        );
        let never_full = asked(Approval::Never, Sandbox::DangerFullAccess);
        assert_eq!(choose(&never_full, Some(&gemini)), set("yolo"));
        assert_eq!(choose(&never_full, Some(&claude)), set("bypassPermissions"));
        assert_eq!(
            choose(&on_request(Sandbox::DangerFullAccess), Some(&gemini)),
            Choice::Keep(None)
        );
        assert_eq!(
            choose(&on_request(Sandbox::External), Some(&codex)),
            set("full-access")
        );
        // `untrusted` keeps the agent asking: never a mode that runs without asking.
        let untrusted = asked(Approval::Untrusted, Sandbox::DangerFullAccess);
        assert_eq!(choose(&untrusted, Some(&codex)), Choice::Keep(None));
        assert_eq!(choose(&untrusted, Some(&claude)), set("default"));
        assert_eq!(
            choose(&on_request(Sandbox::DangerFullAccess), Some(&claude)),
            set("default")
        );
    }

    #[test]
    fn read_only_without_a_mode_is_refused_and_others_are_warned() {
        let read_only = asked(Approval::OnRequest, Sandbox::ReadOnly);
        let Choice::Refuse(message) = choose(&read_only, None) else {
            panic!("not refused");
        };
        assert!(message.contains("offers no session modes"), "{message}");
        let other = modes(&["fast", "slow"], "fast");
        let Choice::Keep(Some(warning)) =
            choose(&asked(Approval::OnRequest, workspace()), Some(&other))
        else {
            panic!("not warned");
        };
        assert!(warning.contains("fast, slow"), "{warning}");
    }
}
