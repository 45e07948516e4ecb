//! Fresh, isolated homes for each server run, where the binaries are, and the machine.
//!
//! Environment policy: a child inherits nothing but `PATH`. `HOME` and the XDG directories point
//! into a new temporary directory, so neither server reads or writes the user's files.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use super::server::Launch;

/// The Codex release whose wire agent-host reproduces (and which the install script pins).
pub const CODEX_VERSION: &str = "0.169.0";

/// The two servers measured side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AgentHost,
    Codex,
}

/// One run's temporary tree: `<root>/home`, `<root>/work` (the server's cwd), `<root>/state`
/// (agent-host's state dir or Codex's `CODEX_HOME`), `<root>/config.toml`, `<root>/stderr`.
pub struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Result<Sandbox, String> {
        let root = tempfile::Builder::new()
            .prefix("agent-host-bench-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        for dir in ["home", "work", "state"] {
            let path = root.path().join(dir);
            std::fs::create_dir_all(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        }
        Ok(Sandbox { root })
    }

    /// `<root>/<name>`: a path inside this run's temporary tree.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    pub fn work_dir(&self) -> PathBuf {
        self.path("work")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    fn home_dir(&self) -> PathBuf {
        self.path("home")
    }

    fn config_file(&self) -> PathBuf {
        self.path("config.toml")
    }

    /// The launch of `kind` in this sandbox, offline: agent-host with an empty config, Codex
    /// with a model provider on a loopback port where nothing listens.
    pub fn launch(&self, kind: Kind, program: &Path) -> Result<Launch, String> {
        self.launch_with(kind, program, None, "")
    }

    /// The launch of `kind` in this sandbox; writes the config file it needs. Codex's model
    /// provider is `model_url` (`http://127.0.0.1:PORT/v1`; `None`: a refused loopback port);
    /// agent-host's config file holds `agent_host_config`.
    pub fn launch_with(
        &self,
        kind: Kind,
        program: &Path,
        model_url: Option<&str>,
        agent_host_config: &str,
    ) -> Result<Launch, String> {
        let mut env = self.base_env();
        let args: Vec<OsString> = match kind {
            Kind::AgentHost => {
                write(&self.config_file(), agent_host_config)?;
                vec![
                    "app-server".into(),
                    "--state-dir".into(),
                    self.state_dir().into(),
                    "--config".into(),
                    self.config_file().into(),
                ]
            }
            Kind::Codex => {
                let url = match model_url {
                    Some(url) => url.to_owned(),
                    None => format!("http://127.0.0.1:{}/v1", refused_loopback_port()?),
                };
                write(
                    &self.state_dir().join("config.toml"),
                    &quiet_codex_config(&url),
                )?;
                env.push(("CODEX_HOME".to_owned(), self.state_dir().into()));
                vec!["app-server".into()]
            }
        };
        Ok(Launch {
            program: program.to_owned(),
            args,
            cwd: self.work_dir(),
            env,
            stderr_file: self.root.path().join("stderr"),
        })
    }

    fn base_env(&self) -> Vec<(String, OsString)> {
        let home = self.home_dir();
        let mut env = vec![("HOME".to_owned(), home.clone().into_os_string())];
        for (name, sub) in [
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_STATE_HOME", ".local/state"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_CACHE_HOME", ".cache"),
        ] {
            env.push((name.to_owned(), home.join(sub).into_os_string()));
        }
        if let Some(path) = std::env::var_os("PATH") {
            env.push(("PATH".to_owned(), path));
        }
        env
    }
}

/// Codex configured for a quiet, offline start (as in the reference captures): a mock model on
/// a loopback provider at `base_url`, no plugins, apps, analytics or update check.
pub fn quiet_codex_config(base_url: &str) -> String {
    format!(
        r#"model = "mock-model"
model_provider = "mock"
check_for_update_on_startup = false

[model_providers.mock]
name = "mock"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false
apps = false
remote_plugin = false

[analytics]
enabled = false
"#
    )
}

/// A loopback port with nothing listening (bound, then released), so any connection Codex
/// might attempt is refused at once instead of leaving the machine.
fn refused_loopback_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind loopback: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?
        .port();
    drop(listener);
    Ok(port)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The agent-host binary Cargo built for this bench (the release profile under `cargo bench`).
pub fn agent_host_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_agent-host"))
}

/// The real Codex installed by `scripts/install-test-deps.sh` (`.cache/codex-bin`), if it is
/// there and reports the pinned version.
pub fn codex_binary() -> Result<PathBuf, String> {
    let link = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".cache")
        .join("codex-bin");
    let not_installed = || "codex: not installed (run scripts/install-test-deps.sh)".to_owned();
    if !link.exists() {
        return Err(not_installed());
    }
    let output = std::process::Command::new(&link)
        .arg("--version")
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|_| not_installed())?;
    let version = String::from_utf8_lossy(&output.stdout);
    match version.split_whitespace().last() {
        Some(CODEX_VERSION) => Ok(link),
        Some(other) => Err(format!(
            "codex: {other} installed, {CODEX_VERSION} expected (run scripts/install-test-deps.sh)"
        )),
        None => Err(not_installed()),
    }
}

/// `nproc`, the kernel release and the CPU model, for the header of the table.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or_else(
            || "?".to_owned(),
            |kib| format!("{:.1}", kib / 1024.0 / 1024.0),
        );
    format!("nproc {cpus}, Linux {kernel}, {model}, {mem_gib} GiB RAM")
}

/// The one-minute load average (other work on the machine skews every timing).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
