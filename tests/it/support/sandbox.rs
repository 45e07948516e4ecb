//! A throwaway directory tree for one server under test: state dir, working dir, home and an
//! empty default config, so nothing of the user's machine is read or written.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::process::{ServerProcess, SpawnSpec};

/// `<root>/state`, `<root>/work` (the server's cwd), `<root>/home`, `<root>/config.toml`.
pub struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("agent-host-test-")
            .tempdir()
            .expect("create a temp dir");
        for dir in ["state", "work", "home"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("create sandbox dir");
        }
        std::fs::write(root.path().join("config.toml"), "").expect("write empty config");
        Sandbox { root }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root().join("state")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.root().join("work")
    }

    pub fn home_dir(&self) -> PathBuf {
        self.root().join("home")
    }

    /// The empty config file used when a test brings none.
    pub fn default_config(&self) -> PathBuf {
        self.root().join("config.toml")
    }

    /// Runs `program args…` in the work dir with HOME and the XDG dirs inside the sandbox and
    /// the agent-host variables removed, plus `env`.
    pub fn spec(
        &self,
        program: &Path,
        args: Vec<OsString>,
        env: &BTreeMap<String, String>,
    ) -> SpawnSpec {
        let mut all_env = BTreeMap::new();
        all_env.insert("HOME".to_owned(), path_string(&self.home_dir()));
        for (name, sub) in [
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_STATE_HOME", ".local/state"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_CACHE_HOME", ".cache"),
        ] {
            all_env.insert(name.to_owned(), path_string(&self.home_dir().join(sub)));
        }
        all_env.extend(env.clone());
        SpawnSpec {
            program: program.to_path_buf(),
            args,
            cwd: self.work_dir(),
            env: all_env,
            env_remove: vec!["AGENT_HOST_HOME".to_owned(), "AGENT_HOST_CONFIG".to_owned()],
        }
    }

    /// `agent-host app-server --state-dir <state> --config <config or the empty one> extra…`.
    pub fn agent_host_spec(
        &self,
        config: Option<&Path>,
        extra_args: &[String],
        env: &BTreeMap<String, String>,
    ) -> SpawnSpec {
        let program = Path::new(env!("CARGO_BIN_EXE_agent-host"));
        self.app_server_spec(program, &[], config, extra_args, env)
    }

    /// Starts `agent-host app-server` in this sandbox with the empty config.
    pub fn spawn_agent_host(&self) -> ServerProcess {
        ServerProcess::spawn(&self.agent_host_spec(None, &[], &BTreeMap::new()))
    }

    /// `program leading… app-server --state-dir <state> --config <config> extra…`: the
    /// agent-host command line, for agent-host or a stand-in (a fake server script).
    pub fn app_server_spec(
        &self,
        program: &Path,
        leading_args: &[OsString],
        config: Option<&Path>,
        extra_args: &[String],
        env: &BTreeMap<String, String>,
    ) -> SpawnSpec {
        let config = config.map_or_else(|| self.default_config(), Path::to_path_buf);
        let mut args: Vec<OsString> = leading_args.to_vec();
        args.extend([
            "app-server".into(),
            "--state-dir".into(),
            self.state_dir().into(),
            "--config".into(),
            config.into(),
        ]);
        args.extend(extra_args.iter().map(OsString::from));
        self.spec(program, args, env)
    }
}

fn path_string(path: &Path) -> String {
    path.to_str().expect("UTF-8 temp path").to_owned()
}
