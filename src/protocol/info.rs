//! The params and results of what a client asks about the server before its first thread:
//! `account/read`, `config/read` and `model/list`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `account/read` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetAccountParams {
    /// Asks the backend to refresh its login first (passed on to a `codex` backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<bool>,
}

/// `account/read` result. Every member is written, `null` included, as Codex writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetAccountResponse {
    /// The account the backend is logged in with; `null` for none (or none needed).
    #[serde(default)]
    pub account: Option<Account>,
    #[serde(default)]
    pub user_id: Option<String>,
    /// Whether turns need an OpenAI login that is not there yet.
    pub requires_openai_auth: bool,
    /// Experimental upstream; Codex writes it (`null`) without the opt-in too.
    #[serde(default)]
    pub workspace_routing: Option<WorkspaceRouting>,
}

/// A logged-in account, by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Account {
    ApiKey,
    Chatgpt {
        email: Option<String>,
        /// One of Codex's plan names (`free`, `plus`, `pro`, …), kept as written.
        plan_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workspace_name: Option<String>,
    },
    AmazonBedrock {
        #[serde(default)]
        uses_codex_managed_credentials: bool,
    },
    Gcp,
}

/// Where a ChatGPT workspace's requests go (experimental upstream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRouting {
    pub account_routing_override: String,
    pub backend_origin: String,
    pub chatgpt_account_id: String,
}

/// `config/read` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigReadParams {
    /// Also return every layer with its own table.
    #[serde(default)]
    pub include_layers: bool,
    /// Codex reads project layers between `cwd` and the repository root; we have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// `config/read` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigReadResponse {
    /// The effective configuration, as one object of configuration keys.
    pub config: Map<String, Value>,
    /// For each dotted key path of `config`, the layer that set it.
    pub origins: IndexMap<String, ConfigLayerMetadata>,
    /// Every layer, highest precedence first (only with `includeLayers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<ConfigLayer>>,
}

/// A layer named, with the version of its contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigLayerMetadata {
    pub name: ConfigLayerSource,
    /// `sha256:` and the SHA-256 of the layer's table as compact JSON with sorted keys.
    pub version: String,
}

/// One layer with its table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigLayer {
    pub name: ConfigLayerSource,
    pub version: String,
    pub config: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

/// Where a layer comes from, by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ConfigLayerSource {
    /// The defaults built into the program; `file` is the program itself.
    PackagedDefaults {
        file: String,
    },
    Mdm {
        domain: String,
        key: String,
    },
    System {
        file: String,
    },
    EnterpriseManaged {
        id: String,
        name: String,
    },
    /// The user's configuration file (ours: `--config`, `AGENT_HOST_CONFIG` or the default).
    User {
        file: String,
        #[serde(default)]
        profile: Option<String>,
    },
    Project {
        dot_codex_folder: String,
    },
    /// The `-c key=value` overrides of the command line.
    SessionFlags,
    LegacyManagedConfigTomlFromFile {
        file: String,
    },
    LegacyManagedConfigTomlFromMdm,
}

/// `model/list` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelListParams {
    /// Where the previous page ended (the `nextCursor` it returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The page size (0 counts as 1); all models without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Also list models hidden from the default picker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_hidden: Option<bool>,
    /// The configured provider whose models to list (default: the default provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
}

/// `model/list` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelListResponse {
    pub data: Vec<Model>,
    /// Where the next page starts; `null` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One model, with every member Codex writes, in its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub id: String,
    /// The name a thread or turn gives as its `model`.
    pub model: String,
    #[serde(default)]
    pub upgrade: Option<String>,
    #[serde(default)]
    pub upgrade_info: Option<ModelUpgradeInfo>,
    #[serde(default)]
    pub availability_nux: Option<ModelAvailabilityNux>,
    pub display_name: String,
    pub description: String,
    #[serde(default)]
    pub model_specialty: Option<String>,
    pub hidden: bool,
    pub supported_reasoning_efforts: Vec<ReasoningEffortOption>,
    pub default_reasoning_effort: String,
    /// `text`, `image`, `audio`.
    #[serde(default = "text_and_image")]
    pub input_modalities: Vec<String>,
    #[serde(default)]
    pub supports_personality: bool,
    /// `disabled`, `v1`, `v2`, or `null`.
    #[serde(default)]
    pub multi_agent_version: Option<String>,
    #[serde(default)]
    pub additional_speed_tiers: Vec<String>,
    #[serde(default)]
    pub service_tiers: Vec<ModelServiceTier>,
    #[serde(default)]
    pub default_service_tier: Option<String>,
    #[serde(default)]
    pub available_access_programs: Option<ModelAccessPrograms>,
    pub is_default: bool,
}

fn text_and_image() -> Vec<String> {
    vec!["text".to_owned(), "image".to_owned()]
}

/// The model a model's upgrade leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelUpgradeInfo {
    pub model: String,
    #[serde(default)]
    pub upgrade_copy: Option<String>,
    #[serde(default)]
    pub model_link: Option<String>,
    #[serde(default)]
    pub migration_markdown: Option<String>,
    #[serde(default)]
    pub retirement_at: Option<i64>,
}

/// A notice shown where a model is picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ModelAvailabilityNux {
    pub message: String,
}

/// A reasoning effort a model takes, described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningEffortOption {
    pub reasoning_effort: String,
    pub description: String,
}

/// A service tier a model offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ModelServiceTier {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// The access programs a caller may select for a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ModelAccessPrograms {
    pub cyber: Vec<String>,
}
