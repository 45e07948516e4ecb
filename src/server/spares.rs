//! The warm spares of this server (`docs/arch/runner.md`, "Warm spares"): at most one per
//! provider with `warm_spare = true`, each kept with its key (everything its backend process
//! depends on) and given to one turn at most. A spare whose key differs from the turn's is
//! dropped, which discards it; dropping the server drops them all (and its death closes their
//! pipes anyway).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::backend::codex_turn;
use crate::runner::launch::{LaunchOptions, Lifeline};
use crate::runner::spare::Spare;
use crate::spec::{self, Spec};

/// The spares, by provider name.
#[derive(Debug, Default)]
pub(crate) struct Spares {
    by_provider: HashMap<String, Kept>,
}

#[derive(Debug)]
struct Kept {
    key: Key,
    spare: Spare,
}

/// What a spare's backend process depends on: the provider as the spec carries it, the
/// values of its variables, its working directory.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    provider: spec::Provider,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
}

impl Key {
    fn of(spec: &Spec, env: &BTreeMap<String, String>) -> Key {
        Key {
            provider: spec.provider.clone(),
            env: env.clone(),
            cwd: spec.cwd.clone(),
        }
    }
}

impl Spares {
    /// The spare of the turn's provider, taken (a spare serves one turn at most), if its key
    /// is the turn's; one with another key is discarded.
    pub fn take(&mut self, spec: &Spec, env: &BTreeMap<String, String>) -> Option<Spare> {
        let kept = self.by_provider.remove(&spec.provider.name)?;
        if kept.key == Key::of(spec, env) {
            Some(kept.spare)
        } else {
            tracing::info!(provider = %spec.provider.name, "the warm spare does not fit the turn; discarded");
            None
        }
    }

    /// Makes sure the provider of `spec` has a spare for the next turn like it (one with
    /// another key is replaced). A spare that cannot be started is logged: turns start cold.
    pub fn refill(
        &mut self,
        state_dir: &Path,
        spec: &Spec,
        env: &BTreeMap<String, String>,
        lifeline: &Lifeline,
    ) {
        let key = Key::of(spec, env);
        let name = &spec.provider.name;
        if self
            .by_provider
            .get(name)
            .is_some_and(|kept| kept.key == key)
        {
            return;
        }
        self.by_provider.remove(name);
        // A turn that started a new Codex thread is likely followed by another (an agent
        // making a thread per task): the spare starts one ahead, with the same settings. After
        // a resumed thread, it does not: the next turn resumes again, and an unused thread
        // costs Codex its set-up (its MCP servers, say) for nothing.
        let thread_start = spec
            .resume_session_id
            .is_none()
            .then(|| codex_turn::thread_start_params(spec));
        let launched = LaunchOptions::current().and_then(|options| {
            Spare::launch(
                &options,
                state_dir,
                &key.provider,
                &key.cwd,
                thread_start,
                env,
                lifeline,
            )
        });
        match launched {
            Ok(spare) => {
                tracing::debug!(provider = %name, dir = %spare.dir().display(), "warm spare started");
                self.by_provider.insert(name.clone(), Kept { key, spare });
            }
            Err(err) => tracing::warn!(provider = %name, %err, "cannot start a warm spare"),
        }
    }
}
