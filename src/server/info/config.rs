//! `config/read`: our configuration in Codex's shape.
//!
//! The effective `config` is Codex's keys for what a Codex client reads (`model`,
//! `model_provider`, `approval_policy`, `sandbox_mode`), then our own table as the layers made
//! it (`default_provider`, `interrupt`, `providers`). The layers, highest first: the `-c`
//! overrides (`sessionFlags`), the configuration file (`user`), the built-in defaults
//! (`packagedDefaults`, whose `file` is this program). `origins` names, for every key path of
//! `config` down to its values, the highest layer that holds it. The values of a provider's
//! `env` (where secrets go) are shown as [`REDACTED`].

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::super::state::{Reply, Server, to_value};
use super::{DEFAULT_APPROVAL_POLICY, DEFAULT_SANDBOX};
use crate::config::{Config, JsonObject, default_config_path};
use crate::protocol::{
    ConfigLayer, ConfigLayerMetadata, ConfigLayerSource, ConfigReadParams, ConfigReadResponse,
};
use crate::sha256;

/// What a provider's environment value reads as.
pub(crate) const REDACTED: &str = "***";

impl Server {
    /// `config/read`. `cwd` is accepted and has no effect: we have no project layers.
    pub(crate) fn config_read(&self, p: ConfigReadParams) -> Reply {
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        to_value(&read(&self.config, &program, p.include_layers))
    }
}

/// One layer: where it comes from and its table as shown.
struct Layer {
    source: ConfigLayerSource,
    table: JsonObject,
}

impl Layer {
    fn metadata(&self) -> ConfigLayerMetadata {
        ConfigLayerMetadata {
            name: self.source.clone(),
            version: self.version(),
        }
    }

    /// The layer's version. The built-in layer names this program's own path (the `demo`
    /// provider's command): its version leaves that path out, so that every copy of one
    /// build, wherever it is installed, gives its defaults the same version.
    fn version(&self) -> String {
        match &self.source {
            ConfigLayerSource::PackagedDefaults { file } => {
                let text = sorted(&Value::Object(self.table.clone()))
                    .to_string()
                    .replace(file.as_str(), "");
                format!("sha256:{}", sha256::hex_digest(text.as_bytes()))
            }
            _ => version(&self.table),
        }
    }
}

/// The response for `config`, whose built-in layer is `program`'s.
fn read(config: &Config, program: &Path, include_layers: bool) -> ConfigReadResponse {
    let layers = layers(config, program);
    let merged = redacted(config.layers().merged.clone());
    // A value in effect is named by the highest layer that holds it; a value a layer holds
    // but a higher one replaced (a table set whole by an override) is not in effect.
    let mut in_effect = fixed_defaults();
    in_effect.extend(merged.clone());
    let origin = |path: &[String]| {
        lookup(&in_effect, path)?;
        let holder = layers
            .iter()
            .find(|layer| lookup(&layer.table, path).is_some());
        holder.map(Layer::metadata)
    };
    let mut effective = Map::new();
    let mut origins = IndexMap::new();
    for (key, value, path) in codex_keys(config) {
        effective.insert(key.to_owned(), value);
        if let Some(metadata) = origin(&path) {
            origins.insert(key.to_owned(), metadata);
        }
    }
    for path in leaf_paths(&merged) {
        if let Some(metadata) = origin(&path) {
            origins.insert(path.join("."), metadata);
        }
    }
    effective.extend(merged);
    let layers = include_layers.then(|| {
        layers
            .iter()
            .map(|layer| ConfigLayer {
                name: layer.source.clone(),
                version: layer.version(),
                config: Value::Object(layer.table.clone()),
                disabled_reason: None,
            })
            .collect()
    });
    ConfigReadResponse {
        config: effective,
        origins,
        layers,
    }
}

/// Codex's keys for our settings: each with its value and the path, in some layer, of what
/// set it. The approval policy and the sandbox are fixed defaults, in the built-in layer.
fn codex_keys(config: &Config) -> [(&'static str, Value, Vec<String>); 4] {
    let name = config.default_provider_name();
    let model = config.default_provider().and_then(|p| p.model.clone());
    let path = |keys: &[&str]| keys.iter().map(|key| (*key).to_owned()).collect();
    [
        ("model", json!(model), path(&["providers", name, "model"])),
        ("model_provider", json!(name), path(&["default_provider"])),
        (
            "approval_policy",
            json!(DEFAULT_APPROVAL_POLICY),
            path(&["approval_policy"]),
        ),
        (
            "sandbox_mode",
            json!(DEFAULT_SANDBOX),
            path(&["sandbox_mode"]),
        ),
    ]
}

/// The layers, highest precedence first. The file's layer names the default file (empty)
/// when no file was read, as Codex names a user file that does not exist.
fn layers(config: &Config, program: &Path) -> Vec<Layer> {
    let written = config.layers();
    let mut layers = Vec::new();
    if let Some(overrides) = &written.overrides {
        layers.push(Layer {
            source: ConfigLayerSource::SessionFlags,
            table: redacted(overrides.clone()),
        });
    }
    if let Some(file) = config.file.clone().or_else(default_config_path) {
        layers.push(Layer {
            source: ConfigLayerSource::User {
                file: file.display().to_string(),
                profile: None,
            },
            table: redacted(written.file.clone()),
        });
    }
    let mut builtin = fixed_defaults();
    builtin.extend(written.builtin.clone());
    layers.push(Layer {
        source: ConfigLayerSource::PackagedDefaults {
            file: program.display().to_string(),
        },
        table: builtin,
    });
    layers
}

/// What the built-in layer holds besides our table: the approval policy and the sandbox of
/// a thread whose client names none, under Codex's keys.
fn fixed_defaults() -> JsonObject {
    let mut fixed = Map::new();
    fixed.insert("approval_policy".to_owned(), json!(DEFAULT_APPROVAL_POLICY));
    fixed.insert("sandbox_mode".to_owned(), json!(DEFAULT_SANDBOX));
    fixed
}

/// `sha256:` and the digest of the table as compact JSON with sorted keys, as Codex versions
/// its layers.
fn version(table: &JsonObject) -> String {
    let text = sorted(&Value::Object(table.clone())).to_string();
    format!("sha256:{}", sha256::hex_digest(text.as_bytes()))
}

/// The value with every object's keys sorted.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), sorted(&object[key])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The table with the value of every `providers.NAME.env.VAR` replaced by [`REDACTED`].
fn redacted(mut table: JsonObject) -> JsonObject {
    let providers = table.get_mut("providers").and_then(Value::as_object_mut);
    for provider in providers.into_iter().flat_map(|p| p.values_mut()) {
        let env = provider.get_mut("env").and_then(Value::as_object_mut);
        for value in env.into_iter().flat_map(|env| env.values_mut()) {
            *value = json!(REDACTED);
        }
    }
    table
}

/// The key path of every value of the table that is not a non-empty table: arrays and empty
/// tables are values too.
fn leaf_paths(table: &JsonObject) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (key, value) in table {
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                for mut below in leaf_paths(inner) {
                    below.insert(0, key.clone());
                    paths.push(below);
                }
            }
            _ => paths.push(vec![key.clone()]),
        }
    }
    paths
}

/// The value at `path` in the table, if it has one.
fn lookup<'a>(table: &'a JsonObject, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = table.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    lookup(value.as_object()?, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str, overrides: &[&str]) -> Config {
        let overrides: Vec<String> = overrides.iter().map(|o| (*o).to_owned()).collect();
        let mut config = Config::from_toml(text, &overrides).expect("a valid config");
        config.file = Some(PathBuf::from("/etc/agent-host.toml"));
        config
    }

    fn origin(response: &ConfigReadResponse, key: &str) -> ConfigLayerSource {
        response.origins[key].name.clone()
    }

    #[test]
    fn every_value_is_named_by_the_highest_layer_that_holds_it() {
        let text = "default_provider = \"claude\"\n[providers.claude]\nmodel = \"opus\"\n";
        let config = config(text, &["interrupt.term_grace_ms=5"]);
        let response = read(&config, Path::new("/bin/agent-host"), false);
        let user = ConfigLayerSource::User {
            file: "/etc/agent-host.toml".to_owned(),
            profile: None,
        };
        let builtin = ConfigLayerSource::PackagedDefaults {
            file: "/bin/agent-host".to_owned(),
        };
        assert_eq!(origin(&response, "model_provider"), user);
        assert_eq!(origin(&response, "model"), user);
        assert_eq!(origin(&response, "default_provider"), user);
        assert_eq!(origin(&response, "providers.claude.model"), user);
        assert_eq!(origin(&response, "providers.claude.kind"), builtin);
        assert_eq!(origin(&response, "providers.claude.args"), builtin);
        assert_eq!(origin(&response, "approval_policy"), builtin);
        assert_eq!(origin(&response, "interrupt.cancel_grace_ms"), builtin);
        assert_eq!(
            origin(&response, "interrupt.term_grace_ms"),
            ConfigLayerSource::SessionFlags
        );
        assert_eq!(response.config["model"], "opus");
        assert_eq!(response.config["model_provider"], "claude");
        assert_eq!(response.config["interrupt"]["term_grace_ms"], 5);
        assert!(response.layers.is_none());
    }

    #[test]
    fn an_override_that_replaces_a_table_takes_its_values_from_the_lower_layers() {
        let text = "[providers.codex]\nmodel = \"o3\"\n";
        let config = config(text, &["providers.codex={kind=\"codex\",command=\"c\"}"]);
        let response = read(&config, Path::new("/bin/agent-host"), true);
        assert!(!response.origins.contains_key("providers.codex.model"));
        assert!(!response.origins.contains_key("model"));
        assert_eq!(response.config["model"], Value::Null);
        assert_eq!(
            origin(&response, "providers.codex.command"),
            ConfigLayerSource::SessionFlags
        );
        let layers = response.layers.expect("layers");
        let names: Vec<_> = layers.iter().map(|l| l.name.clone()).collect();
        assert!(matches!(
            names.as_slice(),
            [
                ConfigLayerSource::SessionFlags,
                ConfigLayerSource::User { .. },
                ConfigLayerSource::PackagedDefaults { .. }
            ]
        ));
    }

    #[test]
    fn environment_values_are_never_shown() {
        let text =
            "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\nenv = { TOKEN = \"s3cret\" }\n";
        let config = config(text, &["providers.x.env.OTHER=hidden"]);
        let response = read(&config, Path::new("/bin/agent-host"), true);
        let text = serde_json::to_string(&response).expect("serializes");
        assert!(
            !text.contains("s3cret") && !text.contains("hidden"),
            "{text}"
        );
        assert_eq!(response.config["providers"]["x"]["env"]["TOKEN"], REDACTED);
        assert!(response.origins.contains_key("providers.x.env.TOKEN"));
    }

    #[test]
    fn a_layer_is_versioned_as_codex_versions_it() {
        assert_eq!(
            version(&JsonObject::new()),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let one = json!({"b": 1, "a": {"d": [1], "c": "x"}});
        let other = json!({"a": {"c": "x", "d": [1]}, "b": 1});
        let as_object = |v: Value| v.as_object().cloned().expect("object");
        assert_eq!(version(&as_object(one)), version(&as_object(other)));
    }
}
