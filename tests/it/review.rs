//! `review/start` end to end on the fake agent: git repositories made for each test, the
//! prompt as the backend got it (the fake agent echoes it), the items that open and close
//! a review, its errors, detached delivery, and a review's interrupt.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::Sandbox;
use crate::support::git_repo::{self, git};
use crate::support::host::{Host, path_str, with_method};

/// The review the fake agent writes after echoing its prompt.
const REVIEW: &str = "One finding: a.txt gains a line that nothing reads.";
/// The text of `exitedReviewMode` for a review that gave none.
const NO_REVIEW: &str = "The review ended without a result.";

/// A fake agent that prints its prompt as a message, then the review.
fn echo_and_review() -> String {
    format!("start\necho-prompt\nmessage {REVIEW}\ncomplete\n")
}

/// A server whose provider `reviewer` runs the fake agent with `script`, whatever the prompt
/// (a review's prompt names no script), and one thread in the sandbox's work dir.
fn host(script: &str) -> Host {
    let sandbox = Sandbox::new();
    let scripts = sandbox.root().join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    let script_file = scripts.join("review.txt");
    std::fs::write(&script_file, script).unwrap();
    let config = format!(
        r#"default_provider = "reviewer"
[interrupt]
cancel_grace_ms = 300
term_grace_ms = 300
[providers.reviewer]
kind = "jsonl"
command = {command:?}
args = ["--script", {script:?}, "{{prompt}}"]
"#,
        command = env!("CARGO_BIN_EXE_fake-agent"),
        script = path_str(&script_file),
    );
    let config_path = sandbox.root().join("review.toml");
    std::fs::write(&config_path, config).unwrap();
    Host::start(sandbox, &config_path, "reviewer", json!({}))
}

/// `review/start` of the host's thread with `target` and `extra` params.
fn review(host: &mut Host, target: Value, extra: Value) -> Value {
    let mut params = json!({"threadId": host.thread_id, "target": target});
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    host.request("review/start", params)
}

fn turn_id(response: &Value) -> String {
    response["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("review/start failed: {response}"))
        .to_owned()
}

/// The items of `item/completed` in `messages`, in order.
fn completed_items(messages: &[Value]) -> Vec<Value> {
    with_method(messages, "item/completed")
        .into_iter()
        .map(|m| m["params"]["item"].clone())
        .collect()
}

fn types(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["type"].as_str().unwrap()).collect()
}

/// The item of `kind` in `items` (the last one).
fn item<'a>(items: &'a [Value], kind: &str) -> &'a Value {
    items
        .iter()
        .rev()
        .find(|i| i["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {items:#?}"))
}

/// Runs a review of `target` to its end; returns its response and every message up to its
/// `turn/completed`, checked against Codex's schema.
fn reviewed(host: &mut Host, target: Value, extra: Value) -> (Value, Vec<Value>) {
    let response = review(host, target, extra);
    let turn = turn_id(&response);
    let messages = host.until_completed(&turn);
    let mut all = vec![response.clone()];
    all.extend(messages.iter().cloned());
    host.assert_conforms(&all);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{messages:#?}");
    (response, messages)
}

/// The prompt the fake agent got: the first agent message of the review (`echo-prompt`).
fn echoed_prompt(messages: &[Value]) -> String {
    let items = completed_items(messages);
    let first = items
        .iter()
        .find(|i| i["type"] == "agentMessage")
        .unwrap_or_else(|| panic!("no agent message in {messages:#?}"));
    first["text"].as_str().unwrap().to_owned()
}

/// The repository's top directory as git names it (the sandbox path with links resolved).
fn top(work: &Path) -> String {
    git(work, &["rev-parse", "--show-toplevel"])
        .trim()
        .to_owned()
}

fn error_of(response: &Value) -> (i64, String) {
    let error = &response["error"];
    assert!(error.is_object(), "expected an error: {response}");
    (
        error["code"].as_i64().unwrap(),
        error["message"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn an_uncommitted_change_is_reviewed_with_its_diff_and_the_review_text_closes_the_turn() {
    let mut host = host(&echo_and_review());
    let work = host.sandbox.work_dir();
    git_repo::init(&work);
    git_repo::write(&work, "a.txt", "one\ntwo, not staged\n");
    git_repo::write(&work, "b.txt", "a staged line\n");
    git(&work, &["add", "b.txt"]);
    git_repo::write(&work, "c.txt", "an untracked line\n");

    let (response, messages) =
        reviewed(&mut host, json!({"type": "uncommittedChanges"}), json!({}));
    let turn = turn_id(&response);
    // The answer is Codex's: the turn holding what is reviewed, and the thread it runs on.
    assert_eq!(
        response["result"]["reviewThreadId"],
        host.thread_id.as_str()
    );
    assert_eq!(
        response["result"]["turn"]["items"],
        json!([{"type": "userMessage", "id": turn, "clientId": null,
            "content": [{"type": "text", "text": "uncommitted changes", "text_elements": []}],
            "startedAtMs": null, "completedAtMs": null}])
    );
    let items = completed_items(&messages);
    assert_eq!(
        types(&items),
        [
            "enteredReviewMode",
            "userMessage",
            "agentMessage",
            "agentMessage",
            "exitedReviewMode"
        ]
    );
    assert_eq!(
        item(&items, "enteredReviewMode")["review"],
        "uncommitted changes"
    );
    // The backend got the staged, unstaged and untracked changes in its prompt.
    let prompt = echoed_prompt(&messages);
    for wanted in [
        "+two, not staged",
        "+a staged line",
        "+an untracked line",
        "`git diff --cached` shows:",
        &format!("`{}`", top(&work)),
    ] {
        assert!(
            prompt.contains(wanted),
            "{wanted:?} not in the prompt:\n{prompt}"
        );
    }
    // The user message shows that prompt; the review text closes the turn.
    assert_eq!(
        item(&items, "userMessage")["content"][0]["text"],
        prompt.as_str()
    );
    assert_eq!(item(&items, "exitedReviewMode")["review"], REVIEW);
    let methods: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["method"].as_str())
        .collect();
    assert_eq!(
        methods[methods.len() - 4..],
        [
            "item/started",
            "item/completed",
            "thread/status/changed",
            "turn/completed"
        ]
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["items"][0]["text"], REVIEW);

    // `thread/read` keeps the review's items in the same order.
    let read = host.read_thread();
    let turns = read["result"]["thread"]["turns"].as_array().unwrap();
    let stored: Vec<Value> = turns[0]["items"].as_array().unwrap().clone();
    assert_eq!(types(&stored), types(&items));
    assert_eq!(
        item(&stored, "exitedReviewMode"),
        item(&items, "exitedReviewMode")
    );
    assert_eq!(
        item(&stored, "enteredReviewMode"),
        item(&items, "enteredReviewMode")
    );
}

#[test]
fn a_branch_is_reviewed_from_its_merge_base_and_a_commit_with_its_title() {
    let mut host = host(&echo_and_review());
    let work = host.sandbox.work_dir();
    git_repo::init(&work);
    let first = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    git(&work, &["checkout", "-q", "-b", "feature"]);
    git_repo::write(&work, "a.txt", "one\na feature line\n");
    let feature = git_repo::commit_all(&work, "Add the feature line");
    git(&work, &["checkout", "-q", "main"]);
    git_repo::write(&work, "main.txt", "only on main\n");
    git_repo::commit_all(&work, "Main moves on");
    git(&work, &["checkout", "-q", "feature"]);
    git_repo::write(&work, "a.txt", "one\na feature line\nnot committed yet\n");

    let (_, messages) = reviewed(
        &mut host,
        json!({"type": "baseBranch", "branch": "main"}),
        json!({}),
    );
    let items = completed_items(&messages);
    assert_eq!(
        item(&items, "enteredReviewMode")["review"],
        "changes against main"
    );
    let prompt = echoed_prompt(&messages);
    assert!(prompt.contains("+a feature line"), "{prompt}");
    assert!(prompt.contains("+not committed yet"), "{prompt}");
    assert!(prompt.contains(&first), "the merge base: {prompt}");
    assert!(!prompt.contains("only on main"), "{prompt}");

    let short = &feature[..7];
    let (_, messages) = reviewed(
        &mut host,
        json!({"type": "commit", "sha": feature}),
        json!({}),
    );
    let items = completed_items(&messages);
    assert_eq!(
        item(&items, "enteredReviewMode")["review"],
        format!("commit {short}: Add the feature line")
    );
    let prompt = echoed_prompt(&messages);
    assert!(prompt.contains("+a feature line"), "{prompt}");
    assert!(prompt.contains(&format!("Commit {feature}")), "{prompt}");
    assert!(!prompt.contains("not committed yet"), "{prompt}");

    let target = json!({"type": "commit", "sha": short, "title": " The client's title "});
    let (response, _) = reviewed(&mut host, target, json!({}));
    assert_eq!(
        response["result"]["turn"]["items"][0]["content"][0]["text"],
        format!("commit {short}: The client's title")
    );
}

#[test]
fn a_review_git_cannot_give_is_refused_precisely() {
    let mut host = host(&echo_and_review());
    let work = host.sandbox.work_dir();
    let cwd = path_str(&work);
    let mut refused = |target: Value| {
        let response = review(&mut host, target, json!({}));
        host.assert_conforms(std::slice::from_ref(&response));
        error_of(&response)
    };

    let (code, message) = refused(json!({"type": "uncommittedChanges"}));
    assert_eq!(code, -32600);
    assert_eq!(message, format!("not a git repository: {cwd}"));

    git_repo::init(&work);
    let root = top(&work);
    let cases = [
        (
            json!({"type": "uncommittedChanges"}),
            format!("nothing to review: no uncommitted changes in {root}"),
        ),
        (
            json!({"type": "commit", "sha": "no-such-rev"}),
            "commit not found: no-such-rev".to_owned(),
        ),
        (
            json!({"type": "commit", "sha": "--output=leak"}),
            "commit not found: --output=leak".to_owned(),
        ),
        (
            json!({"type": "baseBranch", "branch": "no-such-branch"}),
            "branch not found: no-such-branch".to_owned(),
        ),
        (
            json!({"type": "baseBranch", "branch": "main"}),
            "nothing to review: no changes against main".to_owned(),
        ),
        (
            json!({"type": "custom", "instructions": " \n "}),
            "instructions must not be empty".to_owned(),
        ),
        (
            json!({"type": "commit", "sha": ""}),
            "sha must not be empty".to_owned(),
        ),
        (
            json!({"type": "baseBranch", "branch": "  "}),
            "branch must not be empty".to_owned(),
        ),
    ];
    for (target, expected) in cases {
        assert_eq!(refused(target.clone()), (-32600, expected), "{target}");
    }
    // No option reached git as one: nothing was written.
    assert!(!work.join("leak").exists());
}

#[test]
fn an_empty_commit_or_an_unrelated_branch_is_refused_and_the_server_keeps_serving() {
    let mut host = host(&echo_and_review());
    let work = host.sandbox.work_dir();
    git_repo::init(&work);
    let mut refused = |target: Value| {
        let response = review(&mut host, target, json!({}));
        host.assert_conforms(std::slice::from_ref(&response));
        error_of(&response)
    };
    let empty = {
        git(&work, &["commit", "-q", "--allow-empty", "-m", "Nothing"]);
        git(&work, &["rev-parse", "HEAD"]).trim().to_owned()
    };
    assert_eq!(
        refused(json!({"type": "commit", "sha": empty})),
        (
            -32600,
            format!("nothing to review: commit {} changes no file", &empty[..7])
        )
    );
    git(&work, &["checkout", "-q", "--orphan", "unrelated"]);
    git_repo::commit_all(&work, "Unrelated history");
    assert_eq!(
        refused(json!({"type": "baseBranch", "branch": "main"})),
        (-32600, "no merge base between HEAD and main".to_owned())
    );
    let unknown = json!({"threadId": "01a20000-0000-7000-8000-000000000000",
        "target": {"type": "uncommittedChanges"}});
    let response = host.request("review/start", unknown);
    assert_eq!(
        error_of(&response),
        (
            -32600,
            "thread not found: 01a20000-0000-7000-8000-000000000000".to_owned()
        )
    );
    let bad_delivery = json!({"threadId": host.thread_id, "delivery": "elsewhere",
        "target": {"type": "uncommittedChanges"}});
    assert_eq!(
        error_of(&host.request("review/start", bad_delivery)).0,
        -32602
    );

    // Still serving: a review of custom instructions needs no change and runs.
    let (_, messages) = reviewed(
        &mut host,
        json!({"type": "custom", "instructions": "Check the README."}),
        json!({}),
    );
    let items = completed_items(&messages);
    assert_eq!(
        item(&items, "enteredReviewMode")["review"],
        "Check the README."
    );
    assert!(echoed_prompt(&messages).contains("Check the README."));
    assert_eq!(item(&items, "exitedReviewMode")["review"], REVIEW);
}

#[test]
fn a_diff_too_big_for_a_prompt_is_cut_at_a_line_and_says_how_to_read_the_rest() {
    let mut host = host(&echo_and_review());
    let work = host.sandbox.work_dir();
    git_repo::init(&work);
    let line = "x".repeat(99);
    let big: String = (0..2000).map(|n| format!("{n:05} {line}\n")).collect();
    git_repo::write(&work, "a.txt", &format!("one\n{big}"));
    git_repo::write(&work, "new.txt", "not shown\n");

    let (_, messages) = reviewed(&mut host, json!({"type": "uncommittedChanges"}), json!({}));
    let prompt = echoed_prompt(&messages);
    // About 200 KiB of diff: the prompt keeps 60 KiB of it, cut after a whole line.
    assert!(prompt.len() < 70 * 1024, "{} bytes", prompt.len());
    assert!(prompt.contains(&format!("+00000 {line}\n")), "{prompt}");
    assert!(!prompt.contains("+01999"), "the end of the diff is cut");
    let cut = prompt
        .lines()
        .rev()
        .find(|l| l.starts_with('+') && l.len() > 100)
        .unwrap();
    assert_eq!(cut.len(), 1 + 6 + 99, "a whole line: {cut:?}");
    assert!(
        prompt.contains("more bytes of this diff are left out. Run `git diff` in the"),
        "{prompt}"
    );
    // No budget is left for the untracked file: it is named.
    assert!(
        prompt.contains("Untracked files not shown above: `new.txt`."),
        "{prompt}"
    );
}

#[test]
fn a_detached_review_runs_on_a_new_thread_announced_before_the_answer() {
    let mut host = host(&echo_and_review());
    let work = host.sandbox.work_dir();
    git_repo::init(&work);
    git_repo::write(&work, "a.txt", "one\ntwo\n");
    let parent = host.thread_id.clone();

    let extra = json!({"delivery": "detached", "background": true});
    let response = review(&mut host, json!({"type": "uncommittedChanges"}), extra);
    let turn = turn_id(&response);
    let review_thread = response["result"]["reviewThreadId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(review_thread, parent);
    let messages = host.until_completed(&turn);
    let mut all = vec![response.clone()];
    all.extend(messages.iter().cloned());
    host.assert_conforms(&all);

    // `thread/started` of the new thread came before the answer (with the notifications
    // that preceded it, after the parent's own), forked from the reviewed thread.
    let at = messages
        .iter()
        .position(|m| {
            m["method"] == "thread/started" && m["params"]["thread"]["id"] == review_thread.as_str()
        })
        .unwrap_or_else(|| panic!("no thread/started of the review thread: {messages:#?}"));
    let thread = &messages[at]["params"]["thread"];
    assert_eq!(thread["forkedFromId"], parent.as_str());
    assert_eq!(thread["cwd"], path_str(&work));
    assert_eq!(thread["preview"], "");
    for message in &messages[at + 1..] {
        assert_eq!(
            message["params"]["threadId"],
            review_thread.as_str(),
            "{message}"
        );
    }
    let items = completed_items(&messages);
    assert_eq!(item(&items, "exitedReviewMode")["review"], REVIEW);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );

    // The review ran in the background, as asked, on the new thread only.
    let dir = turn_dir(&host, &review_thread, &turn);
    let spec: Value =
        serde_json::from_slice(&std::fs::read(dir.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["mode"], "background");
    let read = host.request(
        "thread/read",
        json!({"threadId": parent, "includeTurns": true}),
    );
    assert_eq!(read["result"]["thread"]["turns"], json!([]));
    let read = host.request(
        "thread/read",
        json!({"threadId": review_thread, "includeTurns": true}),
    );
    let turns = read["result"]["thread"]["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0]["id"], turn.as_str());
}

#[test]
fn a_running_review_can_be_interrupted_but_not_steered_and_ends_once() {
    let mut host =
        host("start\nmessage Looking at it.\nwait-file go\nmessage too late\ncomplete\n");
    let response = review(
        &mut host,
        json!({"type": "custom", "instructions": "Review a.txt."}),
        json!({}),
    );
    let turn = turn_id(&response);
    host.until_message("the first message", |m| {
        m["method"] == "item/completed" && m["params"]["item"]["text"] == "Looking at it."
    });

    let steer = json!({"threadId": host.thread_id, "expectedTurnId": turn,
        "input": [{"type": "text", "text": "also look at b.txt"}]});
    let steered = host.request("turn/steer", steer);
    assert_eq!(
        error_of(&steered),
        (-32600, "cannot steer a review turn".to_owned())
    );
    assert_eq!(
        steered["error"]["data"]["codexErrorInfo"],
        json!({"activeTurnNotSteerable": {"turnKind": "review"}})
    );
    let start = json!({"threadId": host.thread_id,
        "input": [{"type": "text", "text": "and b.txt"}]});
    let joined = host.request("turn/start", start);
    assert_eq!(
        error_of(&joined),
        (-32600, "cannot steer a review turn".to_owned())
    );
    let again = review(
        &mut host,
        json!({"type": "custom", "instructions": "Again."}),
        json!({}),
    );
    assert!(
        error_of(&again)
            .1
            .starts_with(&format!("a turn is already active on this thread: {turn}")),
        "{again}"
    );

    assert_eq!(host.interrupt(&turn)["result"], json!({}));
    let messages = host.until_completed(&turn);
    let mut all = vec![response, steered, joined, again];
    all.extend(messages.iter().cloned());
    host.assert_conforms(&all);
    let items = completed_items(&messages);
    assert_eq!(item(&items, "exitedReviewMode")["review"], NO_REVIEW);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
    assert!(!items.iter().any(|i| i["text"] == "too late"));
}

/// The directory of turn `turn` of thread `thread` in the host's state directory.
fn turn_dir(host: &Host, thread: &str, turn: &str) -> PathBuf {
    host.sandbox
        .state_dir()
        .join("threads")
        .join(thread)
        .join("turns")
        .join(turn)
}
