//! Where things are, relative to the repository root (never an absolute path of a machine).

use std::path::{Path, PathBuf};

/// The Codex version whose wire we reproduce and whose schema we validate against.
pub const CODEX_VERSION: &str = "0.169.0";

/// The repository root (the crate directory).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `fixtures/transcripts`.
pub fn transcripts_dir() -> PathBuf {
    repo_root().join("fixtures").join("transcripts")
}

/// `.cache/codex-schema/<version>`, written by `scripts/install-test-deps.sh`: the stable
/// schema (what a client without `experimentalApi` is promised).
pub fn schema_dir() -> PathBuf {
    repo_root()
        .join(".cache")
        .join("codex-schema")
        .join(CODEX_VERSION)
}

/// `.cache/codex-schema/<version>-experimental`: the schema with every experimental method
/// and member (`generate-json-schema --experimental`).
pub fn experimental_schema_dir() -> PathBuf {
    repo_root()
        .join(".cache")
        .join("codex-schema")
        .join(format!("{CODEX_VERSION}-experimental"))
}

/// The `*.jsonl` files directly in `dir`, sorted by name.
pub fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    files
}
