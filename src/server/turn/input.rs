//! A turn's input: its size limit, its local images, and the prompt a backend is given.

use std::path::{Path, PathBuf};

use crate::backend;
use crate::jsonrpc::ErrorObject;
use crate::protocol::*;
use crate::spec;

/// The most characters of text one turn's input may hold (Codex's limit).
const MAX_INPUT_CHARS: usize = 1_048_576;

/// How many characters of text an input holds (Codex counts text only).
fn input_chars(input: &UserInput) -> usize {
    match input {
        UserInput::Text { text, .. } => text.chars().count(),
        _ => 0,
    }
}

/// Codex's refusal of input over [`MAX_INPUT_CHARS`] characters of text, with its data.
pub(super) fn check_input_size(inputs: &[UserInput]) -> Result<(), ErrorObject> {
    let chars: usize = inputs.iter().map(input_chars).sum();
    if chars <= MAX_INPUT_CHARS {
        return Ok(());
    }
    Err(ErrorObject::invalid_params_with_data(
        format!("Input exceeds the maximum length of {MAX_INPUT_CHARS} characters."),
        serde_json::json!({"input_error_code": "input_too_large", "max_chars": MAX_INPUT_CHARS,
            "actual_chars": chars}),
    ))
}

/// How a turn's local images reach its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ImageDelivery {
    /// With the backend's own flag (`spec.json` `images`); the prompt does not name them.
    Flags,
    /// As `[image: PATH]` lines of the prompt.
    PromptLines,
}

/// Checks every `localImage` input before anything starts: its `path` must be absolute and
/// name a readable file (the backend runs elsewhere, later, and must find it), and it must
/// fit the backend's image flag. The error names the input: `input[1].path`.
pub(super) fn check_local_images(
    inputs: &[UserInput],
    provider: &spec::Provider,
) -> Result<(), ErrorObject> {
    for (position, input) in inputs.iter().enumerate() {
        let UserInput::LocalImage { path, .. } = input else {
            continue;
        };
        let field = format!("input[{position}].path");
        let fail = |why: String| {
            Err(ErrorObject::invalid_params(
                "turn/start",
                format!("`{field}` {why}"),
            ))
        };
        if !Path::new(path).is_absolute() {
            return fail(format!("must be an absolute path, found {path:?}"));
        }
        // Stat first: opening a FIFO for reading would wait for a writer.
        match std::fs::metadata(path) {
            Err(err) => return fail(format!("cannot be read: {path:?}: {err}")),
            Ok(meta) if !meta.is_file() => return fail(format!("is not a file: {path:?}")),
            Ok(_) => {}
        }
        if let Err(err) = std::fs::File::open(path) {
            return fail(format!("cannot be read: {path:?}: {err}"));
        }
        if let Some(why) = backend::image_flag_problem(provider, path) {
            return fail(format!("{why}: {path:?}"));
        }
    }
    Ok(())
}

/// The paths of the local images of a turn's input, in order.
pub(super) fn local_images(inputs: &[UserInput]) -> Vec<PathBuf> {
    inputs
        .iter()
        .filter_map(|input| match input {
            UserInput::LocalImage { path, .. } => Some(PathBuf::from(path)),
            _ => None,
        })
        .collect()
}

/// The prompt given to the backend: each input on its own line, in input order: a text as
/// it is, an image not attached with a flag as `[image: PATH]` or `[image: URL]`, a file
/// mentioned as `[NAME: PATH]` (`docs/backend-jsonl.md`, "The prompt").
pub(super) fn prompt_text(inputs: &[UserInput], images: ImageDelivery) -> String {
    let mut parts: Vec<String> = Vec::new();
    for input in inputs {
        match input {
            UserInput::Text { text, .. } => parts.push(text.clone()),
            UserInput::LocalImage { path, .. } => match images {
                ImageDelivery::Flags => {}
                ImageDelivery::PromptLines => parts.push(format!("[image: {path}]")),
            },
            UserInput::Image { url: Some(url), .. } => parts.push(format!("[image: {url}]")),
            UserInput::Mention { name, path } | UserInput::Skill { name, path } => {
                parts.push(format!("[{name}: {path}]"))
            }
            _ => {}
        }
    }
    parts.join("\n")
}
