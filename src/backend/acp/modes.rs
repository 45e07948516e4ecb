//! The client's sandbox as an ACP session mode.
//!
//! ACP has no sandbox of its own; agents offer session modes instead (`session/new` answers
//! with `modes.availableModes` and `modes.currentModeId`), and the common agents name theirs
//! alike: codex-acp `read-only`, `auto`, `full-access`; Gemini CLI `default`, `autoEdit`,
//! `yolo`, `plan`; claude-agent-acp `default`, `acceptEdits`, `bypassPermissions`, `plan`. The
//! mode is the first of the sandbox's candidates that the agent offers:
//!
//! | sandbox | candidates |
//! |---|---|
//! | `read-only` | `read-only`, `plan` |
//! | `workspace-write` | `auto`, `default` |
//! | `danger-full-access`, `approvalPolicy` `never` | `full-access`, `yolo`, `bypassPermissions` |
//! | `danger-full-access` | `full-access`, `default` |
//!
//! A read-only sandbox that the agent has no mode for refuses the turn before its prompt (the
//! agent would run with more permission than asked). Another sandbox without a matching mode
//! keeps the agent's own mode, with a warning. Whatever the mode, every permission request
//! the agent makes goes to the client.

use serde_json::Value;

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

/// The session mode for `sandbox` among the agent's `modes` (`SessionModeState`).
pub(super) fn choose(sandbox: Option<&str>, never_ask: bool, modes: Option<&Value>) -> Choice {
    let Some(sandbox) = sandbox else {
        return Choice::Keep(None);
    };
    let candidates: &[&str] = match (sandbox, never_ask) {
        ("read-only", _) => &["read-only", "plan"],
        ("workspace-write", _) => &["auto", "default"],
        ("danger-full-access", true) => &["full-access", "yolo", "bypassPermissions"],
        ("danger-full-access", false) => &["full-access", "default"],
        _ => return Choice::Keep(Some(format!("unknown sandbox {sandbox:?}: not applied"))),
    };
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
    match candidates.iter().find(|c| offered.contains(c)) {
        Some(mode) if Some(*mode) == current => Choice::Keep(None),
        Some(mode) => Choice::Set((*mode).to_owned()),
        None => {
            let offered = if offered.is_empty() {
                "it offers no session modes".to_owned()
            } else {
                format!("its session modes are {}", offered.join(", "))
            };
            let message =
                format!("the agent has no session mode for sandbox {sandbox} ({offered})");
            if sandbox == "read-only" {
                Choice::Refuse(format!(
                    "{message}: refusing to run it with more permission"
                ))
            } else {
                Choice::Keep(Some(format!("{message}: it runs in its own mode")))
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

    #[test]
    fn each_sandbox_picks_the_first_offered_candidate() {
        let codex = modes(&["read-only", "auto", "full-access"], "read-only");
        let gemini = modes(&["default", "autoEdit", "yolo", "plan"], "default");
        let set = |mode: &str| Choice::Set(mode.to_owned());
        assert_eq!(
            choose(Some("read-only"), false, Some(&codex)),
            Choice::Keep(None)
        );
        assert_eq!(choose(Some("read-only"), false, Some(&gemini)), set("plan"));
        assert_eq!(
            choose(Some("workspace-write"), false, Some(&codex)),
            set("auto")
        );
        assert_eq!(
            choose(Some("workspace-write"), false, Some(&gemini)),
            Choice::Keep(None)
        );
        assert_eq!(
            choose(Some("danger-full-access"), true, Some(&gemini)),
            set("yolo")
        );
        assert_eq!(
            choose(Some("danger-full-access"), false, Some(&gemini)),
            Choice::Keep(None)
        );
        assert_eq!(
            choose(Some("danger-full-access"), false, Some(&codex)),
            set("full-access")
        );
        assert_eq!(choose(None, true, Some(&codex)), Choice::Keep(None));
    }

    #[test]
    fn read_only_without_a_mode_is_refused_and_others_are_warned() {
        let Choice::Refuse(message) = choose(Some("read-only"), false, None) else {
            panic!("not refused");
        };
        assert!(message.contains("offers no session modes"), "{message}");
        let other = modes(&["fast", "slow"], "fast");
        let Choice::Keep(Some(warning)) = choose(Some("workspace-write"), false, Some(&other))
        else {
            panic!("not warned");
        };
        assert!(warning.contains("fast, slow"), "{warning}");
    }
}
