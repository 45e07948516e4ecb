//! `model/list`: the models of one provider (the default one, or `modelProvider`).
//!
//! Where they come from: the provider's `models` in the configuration; else, for Codex
//! itself, its app-server's own catalog (all of its pages); else the kind's built-in list
//! (`backend::models`). The default is the provider's `model` (listed first when no list
//! has it), else the one the backend marks, else the first. Pages are Codex's: the cursor
//! is the offset of the page's first model, as decimal text.

use serde_json::json;

use super::super::state::{Reply, Server, to_value};
use super::{ask, askable_codex, warn_not_asked};
use crate::backend::models::{KnownModel, builtin_models};
use crate::config::Provider;
use crate::jsonrpc::{ErrorObject, quote};
use crate::protocol::{Model, ModelListParams, ModelListResponse};

/// The most pages read from a backend's catalog.
const MAX_BACKEND_PAGES: usize = 100;

impl Server {
    pub(crate) async fn model_list(&self, p: ModelListParams) -> Reply {
        let name = p
            .model_provider
            .as_deref()
            .unwrap_or(self.config.default_provider_name());
        let provider = self
            .config
            .provider(name)
            .ok_or_else(|| self.provider_not_configured(name))?;
        let mut models = with_default(self.models_of(provider).await, provider.model.as_deref());
        if !p.include_hidden.unwrap_or(false) {
            models.retain(|model| !model.hidden);
        }
        to_value(&page(models, p.cursor.as_deref(), p.limit)?)
    }

    /// Codex's code and `data` for a provider that is not configured, with our message.
    fn provider_not_configured(&self, name: &str) -> ErrorObject {
        let known: Vec<&str> = self.config.providers().map(|p| p.name.as_str()).collect();
        ErrorObject::request_failed_with_data(
            format!(
                "model provider `{}` is not configured; configured providers: {}",
                quote(name),
                known.join(", ")
            ),
            json!({"type": "modelProviderNotConfigured", "modelProvider": quote(name)}),
        )
    }

    /// Every model of the provider, hidden ones included.
    async fn models_of(&self, provider: &Provider) -> Vec<Model> {
        if let Some(names) = &provider.models {
            return names.iter().map(|name| configured(name)).collect();
        }
        if let Some(program) = askable_codex(provider) {
            match ask(provider, &program, async |session| catalog(session).await).await {
                Ok(models) => return models,
                Err(err) => warn_not_asked(provider, &err),
            }
        }
        builtin_models(provider.kind).iter().map(known).collect()
    }
}

/// Every page of a Codex app-server's `model/list`, hidden models included.
async fn catalog(
    session: &mut crate::backend::codex_app_server::Session,
) -> Result<Vec<Model>, String> {
    let mut models = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_BACKEND_PAGES {
        let params = json!({"cursor": cursor, "includeHidden": true});
        let result = session.request("model/list", params).await?;
        let page: ModelListResponse = serde_json::from_value(result)
            .map_err(|err| format!("model/list: unexpected result: {err}"))?;
        models.extend(page.data);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(models),
        }
    }
    Err(format!("model/list: more than {MAX_BACKEND_PAGES} pages"))
}

/// The models with exactly one default: `configured` (added first when missing), else the
/// one already marked, else the first.
fn with_default(mut models: Vec<Model>, configured_default: Option<&str>) -> Vec<Model> {
    match configured_default {
        Some(name) => {
            if !models.iter().any(|model| model.model == name) {
                models.insert(0, configured(name));
            }
            for model in &mut models {
                model.is_default = model.model == name;
            }
        }
        None => {
            let marked = models.iter().position(|model| model.is_default);
            for (at, model) in models.iter_mut().enumerate() {
                model.is_default = at == marked.unwrap_or(0);
            }
        }
    }
    models
}

/// The page of `models` at `cursor`: at most `limit` of them (0 counts as 1; all without a
/// limit), and the cursor of the next page unless it is the last. Errors are Codex's.
fn page(
    mut models: Vec<Model>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<ModelListResponse, ErrorObject> {
    let total = models.len();
    let start = match cursor {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ErrorObject::request_failed(format!("invalid cursor: {}", quote(text))))?,
    };
    if start > total {
        return Err(ErrorObject::request_failed(format!(
            "cursor {start} exceeds total models {total}"
        )));
    }
    let size = limit.map_or(total, |limit| (limit as usize).max(1));
    let end = start.saturating_add(size).min(total);
    let data: Vec<Model> = models.drain(start..end).collect();
    Ok(ModelListResponse {
        data,
        next_cursor: (end < total).then(|| end.to_string()),
    })
}

/// A model named in the configuration: the name is all we know of it.
fn configured(name: &str) -> Model {
    model(name, name, "")
}

fn known(known: &KnownModel) -> Model {
    model(known.id, known.display_name, known.description)
}

/// A model of ours in Codex's shape. No reasoning effort is offered: a turn's `effort` does
/// not reach the backends.
fn model(id: &str, display_name: &str, description: &str) -> Model {
    Model {
        id: id.to_owned(),
        model: id.to_owned(),
        upgrade: None,
        upgrade_info: None,
        availability_nux: None,
        display_name: display_name.to_owned(),
        description: description.to_owned(),
        model_specialty: None,
        hidden: false,
        supported_reasoning_efforts: Vec::new(),
        default_reasoning_effort: "medium".to_owned(),
        input_modalities: vec!["text".to_owned(), "image".to_owned()],
        supports_personality: false,
        multi_agent_version: None,
        additional_speed_tiers: Vec::new(),
        service_tiers: Vec::new(),
        default_service_tier: None,
        available_access_programs: None,
        is_default: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(models: &[Model]) -> Vec<&str> {
        models.iter().map(|model| model.id.as_str()).collect()
    }

    fn list(names: &[&str]) -> Vec<Model> {
        names.iter().map(|name| configured(name)).collect()
    }

    fn defaults(models: &[Model]) -> Vec<&str> {
        models
            .iter()
            .filter(|model| model.is_default)
            .map(|model| model.id.as_str())
            .collect()
    }

    #[test]
    fn exactly_one_model_is_the_default() {
        assert_eq!(defaults(&with_default(list(&["a", "b"]), None)), ["a"]);
        assert_eq!(defaults(&with_default(list(&["a", "b"]), Some("b"))), ["b"]);
        let added = with_default(list(&["a", "b"]), Some("c"));
        assert_eq!(ids(&added), ["c", "a", "b"]);
        assert_eq!(defaults(&added), ["c"]);
        let mut marked = list(&["a", "b"]);
        marked[1].is_default = true;
        assert_eq!(defaults(&with_default(marked, None)), ["b"]);
        assert!(with_default(Vec::new(), None).is_empty());
    }

    #[test]
    fn pages_follow_codex() {
        let models = list(&["a", "b", "c"]);
        let first = page(models.clone(), None, Some(2)).expect("a page");
        assert_eq!(ids(&first.data), ["a", "b"]);
        assert_eq!(first.next_cursor.as_deref(), Some("2"));
        let last = page(models.clone(), Some("2"), Some(2)).expect("a page");
        assert_eq!(ids(&last.data), ["c"]);
        assert_eq!(last.next_cursor, None);
        let one = page(models.clone(), Some("1"), Some(0)).expect("a page");
        assert_eq!(ids(&one.data), ["b"]);
        assert_eq!(one.next_cursor.as_deref(), Some("2"));
        let all = page(models.clone(), None, None).expect("a page");
        assert_eq!(ids(&all.data), ["a", "b", "c"]);
        let end = page(models.clone(), Some("3"), None).expect("a page");
        assert!(end.data.is_empty() && end.next_cursor.is_none());
        let beyond = page(models.clone(), Some("4"), None).expect_err("beyond the end");
        assert_eq!(beyond.message, "cursor 4 exceeds total models 3");
        let bad = page(models, Some("-1"), None).expect_err("not a cursor");
        assert_eq!(bad.message, "invalid cursor: -1");
    }
}
