//! Transcript tests: a fixture (`fixtures/transcripts/<name>.jsonl`) is replayed against the
//! real binary over real pipes, and every line the server writes must match the next expected
//! line, and validate against Codex's official schema. `BLESS=1` rewrites the expected lines
//! from what the server actually wrote. Format, wildcards and directives: `docs/testing.md`.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::{self, Ctl, Entry, EntryKind, FileContent, Newline, Send};
use crate::support::paths;
use crate::support::pattern::{self, Bindings};
use crate::support::schema::{Conformance, TrafficChecker};
use crate::support::{DEFAULT_TIMEOUT, Line, RecvError, Sandbox, ServerProcess};

/// Runs `fixtures/transcripts/<name>.jsonl` against agent-host (with
/// `fixtures/transcripts/<name>.toml` as its config if that exists) and panics with a diff on
/// the first difference. With `BLESS=1` it rewrites the fixture's expected lines instead.
pub fn check(name: &str) {
    let path = paths::transcripts_dir().join(format!("{name}.jsonl"));
    let conformance = Conformance::load().unwrap_or_else(|e| panic!("{e}"));
    let mode = if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        Mode::Bless { out: path.clone() }
    } else {
        let wide = too_wide_patterns(&path);
        assert!(
            wide.is_empty(),
            "{name}: patterns wider than their fields allow (docs/testing.md, wildcards):\n{}",
            wide.join("\n")
        );
        Mode::Check
    };
    if let Err(failure) = run(
        &path,
        &Target::AgentHost,
        &mode,
        SchemaCheck::Codex(&conformance),
    ) {
        panic!("{failure}");
    }
}

/// Every place in the fixture at `path` where an expected message's pattern is wider than
/// its field allows (`pattern::too_wide`), as `line: pointer: why`.
pub fn too_wide_patterns(path: &Path) -> Vec<String> {
    let entries = fixture::load(path).unwrap_or_else(|e| panic!("{e}"));
    entries
        .iter()
        .filter_map(|entry| match &entry.kind {
            EntryKind::Expect(expected) => Some((entry.line, expected)),
            _ => None,
        })
        .flat_map(|(line, expected)| {
            pattern::too_wide(expected)
                .into_iter()
                .map(move |place| format!("line {line}: {place}"))
        })
        .collect()
}

/// The facts of the build and the machine a `userAgent` holds: `<version>` (this crate's),
/// `<os_release>` (the kernel's) and `<arch>`.
fn machine_facts() -> Vec<(&'static str, String)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|e| panic!("cannot read the kernel release: {e}"));
    vec![
        ("<version>", env!("CARGO_PKG_VERSION").to_owned()),
        ("<os_release>", release),
        ("<arch>", std::env::consts::ARCH.to_owned()),
    ]
}

/// The program a transcript runs against.
pub enum Target {
    /// `agent-host app-server …`, the binary of this crate.
    AgentHost,
    /// A stand-in for harness self-tests: `program args… app-server --state-dir … --config …`.
    Program {
        program: PathBuf,
        args: Vec<OsString>,
    },
}

pub enum Mode {
    /// Compare the output with the expected lines.
    Check,
    /// Write the fixture with its expected lines regenerated to `out`.
    Bless { out: PathBuf },
}

/// Whether server output is validated against the Codex schema.
pub enum SchemaCheck<'a> {
    Codex(&'a Conformance),
    /// Only for the harness self-tests, whose stand-in server does not speak Codex.
    Skip,
}

/// Runs one fixture; the error is a readable failure report.
pub fn run(
    path: &Path,
    target: &Target,
    mode: &Mode,
    schema: SchemaCheck<'_>,
) -> Result<(), String> {
    let entries = fixture::load(path)?;
    let config = path.with_extension("toml");
    let sandbox = Sandbox::new();
    let config = if config.is_file() {
        Some(instantiate_config(&config, &sandbox)?)
    } else {
        None
    };
    let schemas = match schema {
        SchemaCheck::Codex(conformance) => conformance.schemas().to_vec(),
        SchemaCheck::Skip => Vec::new(),
    };
    let mut runner = Runner {
        fixture: path
            .strip_prefix(paths::repo_root())
            .unwrap_or(path)
            .to_path_buf(),
        sandbox,
        target,
        config,
        env: BTreeMap::new(),
        args: Vec::new(),
        server: None,
        bindings: Bindings::new(),
        checker: TrafficChecker::new(&schemas),
        timeout: DEFAULT_TIMEOUT,
        recent: VecDeque::new(),
        barriers: 0,
        line: 0,
        last_stderr: String::new(),
    };
    runner.declare_paths();
    let result = match mode {
        Mode::Check => runner.check(&entries),
        Mode::Bless { out } => runner.bless(&entries).and_then(|text| {
            std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))
        }),
    };
    result.map_err(|failure| runner.report(&failure))
}

/// The agent-host program the fixtures run, as the program sees itself (`/proc/self/exe`
/// names the file, not a link to it): what `config/read` names as its built-in layer.
fn agent_host_program() -> PathBuf {
    let program = std::env::var_os(SERVER_OVERRIDE).map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_agent-host")),
        PathBuf::from,
    );
    std::fs::canonicalize(&program).unwrap_or(program)
}

/// The placeholders a fixture's config file (`<name>.toml`) may hold, so that it names the
/// test binaries and the sandbox without an absolute path of the machine: `<fake_agent>` (this
/// crate's `fake-agent` binary), `<repo>` (the repository root), `<sandbox>`, `<state_dir>`
/// and `<work_dir>`.
pub fn config_placeholders(sandbox: &Sandbox) -> Vec<(&'static str, String)> {
    let text = |p: &Path| p.to_str().expect("UTF-8 path").to_owned();
    vec![
        ("<fake_agent>", env!("CARGO_BIN_EXE_fake-agent").to_owned()),
        ("<repo>", text(paths::repo_root())),
        ("<sandbox>", text(sandbox.root())),
        ("<state_dir>", text(&sandbox.state_dir())),
        ("<work_dir>", text(&sandbox.work_dir())),
    ]
}

/// Writes the fixture's config with its placeholders replaced into the sandbox; returns the
/// written file.
fn instantiate_config(template: &Path, sandbox: &Sandbox) -> Result<PathBuf, String> {
    let mut text = std::fs::read_to_string(template)
        .map_err(|e| format!("cannot read {}: {e}", template.display()))?;
    for (placeholder, value) in config_placeholders(sandbox) {
        text = text.replace(placeholder, &value);
    }
    let out = sandbox.root().join("fixture-config.toml");
    std::fs::write(&out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(out)
}

/// A hidden option for debugging the harness or blessing against another build: this
/// environment variable names a program run instead of this crate's `agent-host`.
pub const SERVER_OVERRIDE: &str = "AGENT_HOST_TEST_BIN";

/// The id prefix of the probe requests bless mode sends to find the end of a step's output.
pub const BARRIER_ID_PREFIX: &str = "__barrier_";

/// How many exchanged lines a failure report shows.
const RECENT_LINES: usize = 12;

struct Runner<'a> {
    fixture: PathBuf,
    sandbox: Sandbox,
    target: &'a Target,
    config: Option<PathBuf>,
    env: BTreeMap<String, Option<String>>,
    args: Vec<String>,
    server: Option<ServerProcess>,
    bindings: Bindings,
    checker: TrafficChecker<'a>,
    timeout: Duration,
    recent: VecDeque<String>,
    barriers: u64,
    /// The fixture line being run, for reports.
    line: usize,
    /// The stderr of the last server that ended, for reports.
    last_stderr: String,
}

impl Runner<'_> {
    fn declare_paths(&mut self) {
        let text = |p: PathBuf| p.to_str().expect("UTF-8 temp path").to_owned();
        self.bindings
            .add_path("<state_dir>", &text(self.sandbox.state_dir()));
        self.bindings
            .add_path("<work_dir>", &text(self.sandbox.work_dir()));
        self.bindings
            .add_path("<sandbox>", &text(self.sandbox.root().to_path_buf()));
        self.bindings
            .add_path("<repo>", &text(paths::repo_root().to_path_buf()));
        self.bindings
            .add_path("<agent_host>", &text(agent_host_program()));
        for (placeholder, fact) in machine_facts() {
            self.bindings.add_fact(placeholder, &fact);
        }
    }

    fn check(&mut self, entries: &[Entry]) -> Result<(), String> {
        for entry in entries {
            self.line = entry.line;
            match &entry.kind {
                EntryKind::Comment => {}
                EntryKind::Send(send) => self.send(send)?,
                EntryKind::Expect(expected) => self.expect(expected)?,
                EntryKind::Ctl(ctl) => {
                    self.control(ctl)?;
                }
            }
        }
        self.line = entries.last().map_or(0, |e| e.line);
        let leftover = self.finish()?;
        match leftover.first() {
            Some(first) => Err(format!(
                "the server wrote more than the transcript expects (after stdin was closed at \
                 the end): {first}"
            )),
            None => Ok(()),
        }
    }

    /// Regenerates the expected lines; returns the new fixture text.
    fn bless(&mut self, entries: &[Entry]) -> Result<String, String> {
        let mut out: Vec<String> = Vec::new();
        let mut index = 0;
        // Expected lines before the first step belong to the first step's output.
        let mut leading: Vec<&Entry> = Vec::new();
        while index < entries.len() {
            let entry = &entries[index];
            index += 1;
            self.line = entry.line;
            if let EntryKind::Expect(_) = entry.kind {
                leading.push(entry);
                continue;
            }
            let mut old: Vec<&Entry> = std::mem::take(&mut leading);
            while let Some(next) = entries.get(index) {
                match next.kind {
                    EntryKind::Expect(_) => old.push(next),
                    EntryKind::Comment | EntryKind::Send(_) | EntryKind::Ctl(_) => break,
                }
                index += 1;
            }
            let actual = match &entry.kind {
                EntryKind::Comment => {
                    out.push(entry.raw.clone());
                    continue;
                }
                EntryKind::Send(send) => {
                    out.push(entry.raw.clone());
                    self.send(send)?;
                    match send {
                        Send::Json(_, Newline::No) | Send::Raw(_, Newline::No) => Vec::new(),
                        Send::Json(..) | Send::Raw(..) | Send::Generated { .. } => {
                            self.barrier()?
                        }
                    }
                }
                EntryKind::Ctl(ctl) => {
                    let (actual, code) = self.control_bless(ctl)?;
                    match (ctl, code) {
                        (Ctl::ExpectExit(_), Some(code)) => {
                            out.push(fixture::expect_exit_line(code));
                        }
                        _ => out.push(entry.raw.clone()),
                    }
                    actual
                }
                EntryKind::Expect(_) => unreachable!("expected lines are gathered above"),
            };
            self.write_expected(&mut out, &old, &actual)?;
        }
        let leftover = self.finish()?;
        if !leftover.is_empty() {
            out.push("{\"dir\":\"ctl\",\"ctl\":\"closeStdin\"}".to_owned());
            self.write_expected(&mut out, &leading, &leftover)?;
        }
        let mut text = out.join("\n");
        text.push('\n');
        Ok(text)
    }

    /// Appends the expected lines for `actual`: an old line where it still matches (so
    /// hand-written wildcards and names survive), else a generalized one.
    fn write_expected(
        &mut self,
        out: &mut Vec<String>,
        old: &[&Entry],
        actual: &[Value],
    ) -> Result<(), String> {
        for (position, msg) in actual.iter().enumerate() {
            self.validate(msg)?;
            let kept = old.get(position).filter(|entry| match &entry.kind {
                EntryKind::Expect(pattern) => {
                    pattern::match_value(pattern, msg, &mut self.bindings).is_ok()
                }
                EntryKind::Comment | EntryKind::Send(_) | EntryKind::Ctl(_) => false,
            });
            match kept {
                Some(entry) => out.push(entry.raw.clone()),
                None => {
                    let generalized = pattern::generalize(msg, &mut self.bindings);
                    out.push(fixture::expect_line(&generalized));
                }
            }
        }
        Ok(())
    }

    fn server(&mut self) -> Result<&mut ServerProcess, String> {
        self.server
            .as_mut()
            .ok_or_else(|| "the server is not running (after expectExit, use spawn)".to_owned())
    }

    fn spawn(&mut self) {
        let mut env = BTreeMap::new();
        let mut removed = Vec::new();
        for (name, value) in &self.env {
            match value {
                Some(value) => {
                    env.insert(name.clone(), value.clone());
                }
                None => removed.push(name.clone()),
            }
        }
        let config = self.config.as_deref();
        let mut spec = match self.target {
            Target::AgentHost => match std::env::var_os(SERVER_OVERRIDE) {
                Some(program) => {
                    self.sandbox
                        .app_server_spec(Path::new(&program), &[], config, &self.args, &env)
                }
                None => self.sandbox.agent_host_spec(config, &self.args, &env),
            },
            Target::Program { program, args } => self
                .sandbox
                .app_server_spec(program, args, config, &self.args, &env),
        };
        for name in removed {
            spec.env.remove(&name);
            spec.env_remove.push(name);
        }
        self.note("(spawn)".to_owned());
        self.server = Some(ServerProcess::spawn(&spec));
    }

    fn started(&mut self) -> Result<&mut ServerProcess, String> {
        if self.server.is_none() {
            self.spawn();
        }
        self.server()
    }

    fn send(&mut self, send: &Send) -> Result<(), String> {
        let (bytes, json) = self.render(send)?;
        if let Some(json) = &json {
            self.checker.client_sent(json);
        }
        self.note(format!(
            "→ {}",
            String::from_utf8_lossy(&bytes).trim_end_matches('\n')
        ));
        let server = self.started()?;
        if !server.stdin_open() {
            return Err("a c2s line after closeStdin (use restart or spawn)".to_owned());
        }
        server.send_bytes(&bytes);
        Ok(())
    }

    /// The bytes to write and, when they are JSON, the message.
    fn render(&self, send: &Send) -> Result<(Vec<u8>, Option<Value>), String> {
        let finish = |text: String, newline: Newline| {
            let json = serde_json::from_str::<Value>(&text).ok();
            let mut bytes = text.into_bytes();
            if newline == Newline::Yes {
                bytes.push(b'\n');
            }
            (bytes, json)
        };
        Ok(match send {
            Send::Json(template, newline) => {
                finish(self.bindings.substitute(template)?.to_string(), *newline)
            }
            Send::Raw(text, newline) => finish(self.bindings.substitute_str(text)?, *newline),
            Send::Generated {
                prefix,
                fill,
                bytes,
                suffix,
            } => {
                let prefix = self.bindings.substitute_str(prefix)?;
                let suffix = self.bindings.substitute_str(suffix)?;
                let room = bytes
                    .checked_sub(prefix.len() + suffix.len())
                    .ok_or("`generate`: prefix and suffix are longer than `bytes`")?;
                if fill.is_empty() || room % fill.len() != 0 {
                    return Err(format!(
                        "`generate`: {room} bytes of room is not a multiple of the fill {fill:?}"
                    ));
                }
                finish(
                    format!("{prefix}{}{suffix}", fill.repeat(room / fill.len())),
                    Newline::Yes,
                )
            }
        })
    }

    /// Reads the next line and matches it against `expected`.
    fn expect(&mut self, expected: &Value) -> Result<(), String> {
        let timeout = self.timeout;
        let line = self
            .server()
            .map_err(|e| format!("an expected line, but {e}"))?
            .recv_line(timeout);
        let actual = match line {
            Ok(Line::Json(actual)) => actual,
            Ok(Line::NotJson(raw)) => {
                return Err(format!("the server wrote a line that is not JSON: {raw:?}"));
            }
            Err(error) => {
                return Err(format!("expected {expected}\nbut {error}"));
            }
        };
        self.note(format!("← {actual}"));
        self.validate(&actual)?;
        pattern::match_value(expected, &actual, &mut self.bindings).map_err(|mismatch| {
            format!("mismatch {mismatch}\nexpected: {expected}\nactual:   {actual}")
        })
    }

    fn validate(&self, msg: &Value) -> Result<(), String> {
        self.checker
            .server_sent(msg)
            .map_err(|e| format!("the server's message does not conform to Codex: {msg}\n{e}"))
    }

    /// Runs a directive in check mode; returns the exit code for `expectExit`.
    fn control(&mut self, ctl: &Ctl) -> Result<Option<Option<i32>>, String> {
        match ctl {
            Ctl::Restart => {
                let leftover = self.finish()?;
                if let Some(first) = leftover.first() {
                    return Err(format!("unexpected output before the restart: {first}"));
                }
                self.spawn();
            }
            Ctl::CloseStdin => {
                self.note("(close stdin)".to_owned());
                self.started()?.close_stdin();
            }
            Ctl::ExpectExit(expected) => {
                let timeout = self.timeout;
                let status = self
                    .server()?
                    .wait_exit(timeout)
                    .ok_or_else(|| format!("the server did not exit within {timeout:?}"))?;
                let code = status.code();
                self.note(format!("(exited: {status})"));
                if expected.is_some() && *expected != code {
                    return Err(format!(
                        "expected exit code {expected:?}, the server exited with {status}"
                    ));
                }
                return Ok(Some(code));
            }
            Ctl::Spawn => {
                if let Some(server) = &mut self.server {
                    if server.wait_exit(Duration::ZERO).is_none() {
                        return Err("spawn while the server still runs (use restart)".to_owned());
                    }
                    self.last_stderr = server.stderr();
                }
                let leftover = self.drain()?;
                if let Some(first) = leftover.first() {
                    return Err(format!("unexpected output before the spawn: {first}"));
                }
                self.spawn();
            }
            Ctl::Env(vars) => self.env.extend(vars.clone()),
            Ctl::Args(args) => self.args = args.clone(),
            Ctl::Settle(_) => {}
            Ctl::Timeout(timeout) => self.timeout = *timeout,
            Ctl::File { path, content } => self.write_file(path, content)?,
        }
        Ok(None)
    }

    /// The `file` directive: writes into the sandbox only, placeholders replaced in the
    /// path and in the text.
    fn write_file(&mut self, path: &str, content: &FileContent) -> Result<(), String> {
        let placeholders = config_placeholders(&self.sandbox);
        let replaced = |text: &str| {
            placeholders
                .iter()
                .fold(text.to_owned(), |text, (placeholder, value)| {
                    text.replace(placeholder, value)
                })
        };
        let target = PathBuf::from(replaced(path));
        if !target.starts_with(self.sandbox.root()) || path.contains("..") {
            return Err(format!("file: {path} is not a path in <sandbox>"));
        }
        let text = match content {
            FileContent::Text(text) => text.clone(),
            FileContent::From(from) => {
                let from = replaced(from);
                std::fs::read_to_string(&from)
                    .map_err(|e| format!("file: cannot read {from}: {e}"))?
            }
        };
        let parent = target.parent().ok_or("file: a path without a directory")?;
        std::fs::create_dir_all(parent)
            .and_then(|()| std::fs::write(&target, replaced(&text)))
            .map_err(|e| format!("file: cannot write {}: {e}", target.display()))?;
        self.note(format!("(file {path})"));
        Ok(())
    }

    /// Runs a directive in bless mode; returns the output it collected and the exit code for
    /// `expectExit`.
    fn control_bless(&mut self, ctl: &Ctl) -> Result<(Vec<Value>, Option<Option<i32>>), String> {
        match ctl {
            Ctl::Restart => {
                let leftover = self.finish()?;
                self.spawn();
                Ok((leftover, None))
            }
            Ctl::CloseStdin => {
                self.note("(close stdin)".to_owned());
                self.started()?.close_stdin();
                Ok((self.drain()?, None))
            }
            Ctl::ExpectExit(_) => {
                let code = self.control(&Ctl::ExpectExit(None))?;
                Ok((self.drain()?, code))
            }
            Ctl::Settle(until) => {
                let timeout = self.timeout;
                let mut bindings = self.bindings.clone();
                let found = self.server()?.wait_for(timeout, |msg| {
                    pattern::match_subset(until, msg, &mut bindings).is_ok()
                });
                match found {
                    Ok((msg, mut before)) => {
                        before.push(msg);
                        Ok((before, None))
                    }
                    Err((error, _)) => Err(format!("settle: no message like {until}: {error}")),
                }
            }
            Ctl::Spawn | Ctl::Env(_) | Ctl::Args(_) | Ctl::Timeout(_) | Ctl::File { .. } => {
                self.control(ctl).map(|code| (Vec::new(), code))
            }
        }
    }

    /// Bless mode: sends a read-only probe request and returns everything the server wrote
    /// before its response. The server answers in order, so that is the step's output.
    fn barrier(&mut self) -> Result<Vec<Value>, String> {
        let output = self.probe()?;
        for msg in &output {
            self.note(format!("← {msg}"));
        }
        Ok(output)
    }

    fn probe(&mut self) -> Result<Vec<Value>, String> {
        self.barriers += 1;
        let id = json!(format!("{BARRIER_ID_PREFIX}{}", self.barriers));
        let probe = json!({"id": id, "method": "thread/loaded/list", "params": {}});
        let timeout = self.timeout;
        let server = self.server()?;
        server.send_json(&probe);
        match server.wait_for_response(&id, timeout) {
            Ok((_, before)) => Ok(before),
            // The step ended the server (an exit request): its output is complete.
            Err((RecvError::Eof, before)) => Ok(before),
            Err((error @ RecvError::Timeout(_), before)) => Err(format!(
                "no response to the bless probe {probe}: {error} (output so far: {before:?})"
            )),
        }
    }

    /// The rest of the output up to EOF (the process has exited or its stdin is closed).
    fn drain(&mut self) -> Result<Vec<Value>, String> {
        let timeout = self.timeout;
        let Some(server) = &mut self.server else {
            return Ok(Vec::new());
        };
        let mut rest = Vec::new();
        loop {
            match server.recv_line(timeout) {
                Ok(Line::Json(msg)) => rest.push(msg),
                Ok(Line::NotJson(raw)) => {
                    return Err(format!("the server wrote a line that is not JSON: {raw:?}"));
                }
                Err(RecvError::Eof) => break,
                Err(error @ RecvError::Timeout(_)) => {
                    return Err(format!("waiting for the server's stdout to close: {error}"));
                }
            }
        }
        for msg in &rest {
            self.note(format!("← {msg}"));
        }
        Ok(rest)
    }

    /// Closes stdin, reads the output to EOF and expects exit code 0; returns the output read.
    fn finish(&mut self) -> Result<Vec<Value>, String> {
        let Some(server) = &mut self.server else {
            return Ok(Vec::new());
        };
        server.close_stdin();
        let rest = self.drain()?;
        let timeout = self.timeout;
        let server = self.server()?;
        let status = server
            .wait_exit(timeout)
            .ok_or_else(|| format!("the server did not exit within {timeout:?} of EOF"))?;
        if status.code() != Some(0) {
            return Err(format!(
                "the server exited with {status} at EOF (expected 0)"
            ));
        }
        self.server = None;
        Ok(rest)
    }

    fn note(&mut self, text: String) {
        let mut text = text;
        if text.len() > 400 {
            let mut end = 400;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        self.recent.push_back(text);
        if self.recent.len() > RECENT_LINES {
            self.recent.pop_front();
        }
    }

    fn report(&self, failure: &str) -> String {
        let mut report = format!(
            "transcript {}:{}: {failure}\n\nlast lines exchanged:\n",
            self.fixture.display(),
            self.line
        );
        for line in &self.recent {
            report.push_str(&format!("  {line}\n"));
        }
        let stderr = match &self.server {
            Some(server) => server.stderr(),
            None => self.last_stderr.clone(),
        };
        if !stderr.is_empty() {
            let tail: String = stderr
                .chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            report.push_str(&format!("\nserver stderr (end):\n{tail}\n"));
        }
        report.push_str("\n(BLESS=1 rewrites the expected lines from the actual output)\n");
        report
    }
}

/// The harness's own tests, against `fixtures/transcripts/selftest/fake_server.py` (a real
/// process, so pipes, restarts, environment and exit codes are exercised for real).
mod selftest {
    use super::*;

    fn fake() -> Target {
        let script = paths::transcripts_dir()
            .join("selftest")
            .join("fake_server.py");
        Target::Program {
            program: PathBuf::from("python3"),
            args: vec![script.into_os_string()],
        }
    }

    fn fake_fixture() -> PathBuf {
        paths::transcripts_dir().join("selftest").join("fake.jsonl")
    }

    fn passes(result: Result<(), String>) {
        if let Err(failure) = result {
            panic!("{failure}");
        }
    }

    /// Writes `text` as a fixture in a temp dir and runs it against the fake server.
    fn run_text(text: &str, mode: &Mode) -> Result<(), String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("inline.jsonl");
        std::fs::write(&path, text).expect("write fixture");
        run(&path, &fake(), mode, SchemaCheck::Skip)
    }

    #[test]
    fn a_matching_transcript_passes() {
        passes(run(
            &fake_fixture(),
            &fake(),
            &Mode::Check,
            SchemaCheck::Skip,
        ));
    }

    #[test]
    fn a_different_value_fails_with_the_place_and_both_messages() {
        let text = concat!(
            r#"{"dir":"c2s","msg":{"id":1,"method":"args/get","params":{}}}"#,
            "\n",
            r#"{"dir":"s2c","msg":{"id":1,"result":{"args":["--other"]}}}"#,
            "\n",
        );
        let failure = run_text(text, &Mode::Check).expect_err("a mismatch fails");
        assert!(
            failure.contains("inline.jsonl:2: mismatch at /result/args"),
            "{failure}"
        );
        assert!(
            failure.contains(r#"actual:   {"id":1,"result":{"args":[]}}"#),
            "{failure}"
        );
        assert!(failure.contains("BLESS=1"), "{failure}");
    }

    #[test]
    fn output_the_transcript_does_not_expect_fails() {
        let text = concat!(
            r#"{"dir":"c2s","msg":{"id":1,"method":"thread/start","params":{}}}"#,
            "\n",
            r#"{"dir":"s2c","msg":{"id":1,"result":{"thread":{"id":"<uuid>"}}}}"#,
            "\n",
        );
        let failure = run_text(text, &Mode::Check).expect_err("extra output fails");
        assert!(
            failure.contains("more than the transcript expects"),
            "{failure}"
        );
        assert!(failure.contains("thread/started"), "{failure}");
    }

    #[test]
    fn a_line_that_never_comes_fails_after_the_timeout() {
        let text = concat!(
            r#"{"dir":"ctl","ctl":"timeout","ms":300}"#,
            "\n",
            r#"{"dir":"c2s","msg":{"method":"a/notification"}}"#,
            "\n",
            r#"{"dir":"s2c","msg":{"id":1,"result":{}}}"#,
            "\n",
        );
        let failure = run_text(text, &Mode::Check).expect_err("a missing line fails");
        assert!(failure.contains("no output within 300ms"), "{failure}");
    }

    #[test]
    fn a_wrong_exit_code_fails() {
        let text = concat!(
            r#"{"dir":"c2s","msg":{"id":1,"method":"exit","params":{"code":2}}}"#,
            "\n",
            r#"{"dir":"s2c","msg":{"id":1,"result":{}}}"#,
            "\n",
            r#"{"dir":"ctl","ctl":"expectExit","code":0}"#,
            "\n",
        );
        let failure = run_text(text, &Mode::Check).expect_err("a wrong exit code fails");
        assert!(failure.contains("expected exit code Some(0)"), "{failure}");
    }

    #[test]
    fn bless_keeps_lines_that_still_match() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("blessed.jsonl");
        let mode = Mode::Bless { out: out.clone() };
        assert_eq!(
            run(&fake_fixture(), &fake(), &mode, SchemaCheck::Skip),
            Ok(())
        );
        let original = std::fs::read_to_string(fake_fixture()).expect("fixture");
        assert_eq!(std::fs::read_to_string(&out).expect("blessed"), original);
    }

    #[test]
    fn bless_writes_expected_lines_that_then_pass() {
        let original = std::fs::read_to_string(fake_fixture()).expect("fixture");
        let without_expectations: String = original
            .lines()
            .filter(|line| !line.contains(r#""dir":"s2c""#))
            .map(|line| format!("{line}\n"))
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("blessed.jsonl");
        passes(run_text(
            &without_expectations,
            &Mode::Bless { out: out.clone() },
        ));
        let blessed = std::fs::read_to_string(&out).expect("blessed");
        for needle in [
            r#"{"id":1,"result":{"thread":{"id":"<$thread1>"}}}"#,
            r#""path":"<state_dir>/threads/<$thread1>""#,
            r#""createdAt":"<secs>""#,
            r#""emittedAtMs":"<ms>""#,
            r#"{"id":5,"result":{"value":"<sandbox>/home"}}"#,
            r#"{"dir":"ctl","ctl":"expectExit","code":3}"#,
        ] {
            assert!(blessed.contains(needle), "{needle} is not in:\n{blessed}");
        }
        assert!(!blessed.contains(BARRIER_ID_PREFIX), "{blessed}");
        assert!(!blessed.contains(dir.path().to_str().unwrap()), "{blessed}");
        passes(run(&out, &fake(), &Mode::Check, SchemaCheck::Skip));
    }

    #[test]
    fn a_fixture_config_gets_its_placeholders_replaced() {
        let sandbox = Sandbox::new();
        let dir = tempfile::tempdir().expect("temp dir");
        let template = dir.path().join("inline.toml");
        std::fs::write(
            &template,
            "command = \"<fake_agent>\"\nscripts = \"<repo>/fixtures/agent-scripts\"\n\
             pids = \"<sandbox>/pids\"\nstate = \"<state_dir>\"\nwork = \"<work_dir>\"\n",
        )
        .expect("write config");
        let out = instantiate_config(&template, &sandbox).expect("instantiate");
        assert!(out.starts_with(sandbox.root()), "{}", out.display());
        let text = std::fs::read_to_string(&out).expect("read config");
        let table: toml::Table = text.parse().expect("still TOML");
        let fake_agent = PathBuf::from(table["command"].as_str().unwrap());
        assert_eq!(fake_agent, Path::new(env!("CARGO_BIN_EXE_fake-agent")));
        assert!(fake_agent.is_file(), "{}", fake_agent.display());
        let scripts = PathBuf::from(table["scripts"].as_str().unwrap());
        assert!(scripts.join("quick.txt").is_file(), "{}", scripts.display());
        assert_eq!(
            PathBuf::from(table["pids"].as_str().unwrap()),
            sandbox.root().join("pids")
        );
        assert_eq!(
            PathBuf::from(table["state"].as_str().unwrap()),
            sandbox.state_dir()
        );
        assert_eq!(
            PathBuf::from(table["work"].as_str().unwrap()),
            sandbox.work_dir()
        );
        // The template itself is left as it is.
        let original = std::fs::read_to_string(&template).expect("template");
        assert!(original.contains("<fake_agent>"), "{original}");
    }

    #[test]
    fn the_support_helpers_drive_a_server() {
        let sandbox = Sandbox::new();
        let Target::Program { program, args } = fake() else {
            unreachable!("fake() is a program")
        };
        let spec = sandbox.app_server_spec(&program, &args, None, &[], &BTreeMap::new());
        let mut server = ServerProcess::spawn(&spec);
        assert_eq!(server.initialize(), json!({}));
        let (response, before) = server.request(json!(2), "thread/start", json!({}));
        assert!(before.is_empty(), "{before:?}");
        let thread_id = response["result"]["thread"]["id"].clone();
        let (started, skipped) = server
            .wait_for(DEFAULT_TIMEOUT, |msg| msg["method"] == "thread/started")
            .expect("thread/started");
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(started["params"]["thread"]["id"], thread_id);
        server.close_stdin();
        assert_eq!(server.recv_line(DEFAULT_TIMEOUT), Err(RecvError::Eof));
        let status = server.wait_exit(DEFAULT_TIMEOUT).expect("exit after EOF");
        assert!(status.success(), "{status}");
    }
}
