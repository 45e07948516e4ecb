//! `docs/compatibility.md`, "Every method of the Codex schema", against the pinned Codex
//! schema and the real binary: the table lists every method of the schema (stable and
//! experimental) and nothing else, every method agent-host serves or sends is marked
//! supported, and every client request marked unavailable is answered the way the page says
//! (`-32601 <method> is unavailable in agent-host`; without the `experimentalApi`
//! capability, an experimental one gets Codex's gate first).

use std::collections::{BTreeMap, BTreeSet};

use agent_host::protocol::{
    CLIENT_METHODS, CLIENT_NOTIFICATION_METHODS, SERVER_NOTIFICATION_METHODS,
    SERVER_REQUEST_METHODS, codex_method,
};
use serde_json::{Value, json};

use crate::support::paths;
use crate::support::process::DEFAULT_TIMEOUT;
use crate::support::sandbox::Sandbox;

/// The tables of the section, by their heading, and the union in Codex's schema they list.
const TABLES: [(&str, &str); 4] = [
    ("Client requests", "ClientRequest.json"),
    ("Client notifications", "ClientNotification.json"),
    ("Server notifications", "ServerNotification.json"),
    ("Server requests", "ServerRequest.json"),
];

/// A table: method → status word.
type Table = BTreeMap<String, String>;

fn compatibility_page() -> String {
    let path = paths::repo_root().join("docs").join("compatibility.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows of the table under `### <heading>`: the method (in backticks) and its status.
fn table(page: &str, heading: &str) -> Table {
    let start = page
        .find(&format!("\n### {heading}\n"))
        .unwrap_or_else(|| panic!("docs/compatibility.md has no `### {heading}`"));
    let mut rows = Table::new();
    let body = page[start..].lines().skip(2);
    for line in body.skip_while(|line| !line.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(method), Some(status)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Some(method) = method.strip_prefix('`').and_then(|m| m.strip_suffix('`')) else {
            continue; // the header and the rule
        };
        let previous = rows.insert(method.to_owned(), (*status).to_owned());
        assert!(
            previous.is_none(),
            "`{method}` is listed twice under {heading}"
        );
    }
    rows
}

/// The methods of a union of Codex's schema in `dir` (`oneOf` branches naming `method`).
fn codex_methods(dir: &std::path::Path, file: &str) -> BTreeSet<String> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run scripts/install-test-deps.sh)",
            path.display()
        )
    });
    let union: Value = serde_json::from_str(&text).expect("schema is JSON");
    let branches = union["oneOf"].as_array().expect("a oneOf union");
    branches
        .iter()
        .flat_map(|branch| {
            let method = &branch["properties"]["method"];
            let names = match (&method["enum"], &method["const"]) {
                (Value::Array(names), _) => names.clone(),
                (_, Value::String(name)) => vec![json!(name)],
                _ => Vec::new(),
            };
            names
                .into_iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
        })
        .collect()
}

#[test]
fn the_table_lists_every_method_of_the_codex_schema_and_no_other() {
    let page = compatibility_page();
    let mut problems = Vec::new();
    for (heading, file) in TABLES {
        let rows = table(&page, heading);
        let stable = codex_methods(&paths::schema_dir(), file);
        let all = codex_methods(&paths::experimental_schema_dir(), file);
        assert!(
            stable.is_subset(&all),
            "{file}: the stable schema is in the experimental one"
        );
        let listed: BTreeSet<String> = rows.keys().cloned().collect();
        for missing in all.difference(&listed) {
            problems.push(format!(
                "{heading}: `{missing}` is in the schema, not in the table"
            ));
        }
        for extra in listed.difference(&all) {
            problems.push(format!(
                "{heading}: `{extra}` is in the table, not in the schema"
            ));
        }
        for (method, status) in &rows {
            if !["supported", "difference", "unavailable"].contains(&status.as_str()) {
                problems.push(format!("{heading}: `{method}` has status `{status}`"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/compatibility.md:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn what_agent_host_serves_and_sends_is_marked_supported() {
    let page = compatibility_page();
    let ours: [(&str, &[&str]); 4] = [
        ("Client requests", CLIENT_METHODS),
        ("Client notifications", CLIENT_NOTIFICATION_METHODS),
        ("Server notifications", SERVER_NOTIFICATION_METHODS),
        ("Server requests", SERVER_REQUEST_METHODS),
    ];
    let mut problems = Vec::new();
    for (heading, methods) in ours {
        let rows = table(&page, heading);
        for method in methods {
            match rows.get(*method).map(String::as_str) {
                Some("supported" | "difference") => {}
                other => problems.push(format!("{heading}: `{method}` is {other:?}")),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "served but not supported:\n  {}",
        problems.join("\n  ")
    );
}

/// Sends every client request the page marks unavailable to one server and returns each
/// method's error.
fn errors_of_unavailable(experimental_api: bool) -> BTreeMap<String, Value> {
    let rows = table(&compatibility_page(), "Client requests");
    let sandbox = Sandbox::new();
    let mut server = sandbox.spawn_agent_host();
    let (init, _) = server.request(
        json!(0),
        "initialize",
        json!({"clientInfo": {"name": "compat", "version": "1"},
               "capabilities": {"experimentalApi": experimental_api}}),
    );
    assert!(init.get("result").is_some(), "{init}");
    server.send_json(&json!({"method": "initialized"}));
    let mut errors = BTreeMap::new();
    let unavailable = rows.iter().filter(|(_, status)| *status == "unavailable");
    for (n, (method, _)) in unavailable.enumerate() {
        let (response, _) = server.request(json!(n + 1), method, json!({}));
        errors.insert(method.clone(), response["error"].clone());
    }
    server.close_stdin();
    assert!(
        server
            .wait_exit(DEFAULT_TIMEOUT)
            .is_some_and(|s| s.success()),
        "the server kept serving and exits cleanly"
    );
    errors
}

#[test]
fn every_request_marked_unavailable_is_answered_unavailable() {
    let mut problems = Vec::new();
    for (method, error) in errors_of_unavailable(true) {
        let expected =
            json!({"code": -32601, "message": format!("{method} is unavailable in agent-host")});
        if error != expected {
            problems.push(format!("`{method}`: {error}"));
        }
    }
    assert!(
        problems.is_empty(),
        "not answered as unavailable:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn without_the_capability_an_unavailable_experimental_request_meets_codexs_gate() {
    let stable = codex_methods(&paths::schema_dir(), "ClientRequest.json");
    let mut problems = Vec::new();
    let mut gated = 0;
    for (method, error) in errors_of_unavailable(false) {
        let expected = if stable.contains(&method) {
            json!({"code": -32601, "message": format!("{method} is unavailable in agent-host")})
        } else {
            gated += 1;
            json!({"code": -32600, "message": format!("{method} requires experimentalApi capability")})
        };
        if error != expected {
            problems.push(format!("`{method}`: {error}, expected {expected}"));
        }
        assert!(
            codex_method(&method).is_some(),
            "`{method}` is a Codex method to the server"
        );
    }
    assert!(
        gated > 0,
        "the page marks experimental requests unavailable"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n  "));
}
