//! `agent-host app-server generate-json-schema --out DIR` (also `agent-host schema`) and
//! `generate-ts --out DIR`: write the JSON Schema of our protocol types
//! ([`crate::protocol::schema`]) or the TypeScript types made from it
//! ([`crate::protocol::typescript`]) into a directory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Json,
    TypeScript,
}

/// Why the files could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the schema into {}: {source}", dir.display())]
pub struct SchemaError {
    dir: PathBuf,
    source: io::Error,
}

/// Writes every file of `kind` into `out`, creating directories as needed.
pub(super) fn run(out: &Path, kind: Kind) -> Result<(), SchemaError> {
    crate::logging::init();
    write_files(out, kind).map_err(|source| SchemaError {
        dir: out.to_path_buf(),
        source,
    })
}

fn write_files(out: &Path, kind: Kind) -> io::Result<()> {
    let files: BTreeMap<String, String> = match kind {
        Kind::Json => crate::protocol::schema::generate()?
            .into_iter()
            .map(|(name, text)| (name.to_owned(), text))
            .collect(),
        Kind::TypeScript => crate::protocol::typescript::generate()?,
    };
    for (name, text) in files {
        let path = out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::atomic_file::write_atomic(&path, text.as_bytes())?;
    }
    Ok(())
}
