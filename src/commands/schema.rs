//! `agent-host schema --out DIR`: writes the JSON Schema of our protocol types
//! ([`crate::protocol::schema`]) into a directory.

use std::io;
use std::path::{Path, PathBuf};

/// Why the schema could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the schema into {}: {source}", dir.display())]
pub struct SchemaError {
    dir: PathBuf,
    source: io::Error,
}

/// Writes every schema file into `out`, creating the directory if needed.
pub(super) fn run(out: &Path) -> Result<(), SchemaError> {
    crate::logging::init();
    write_schemas(out).map_err(|source| SchemaError {
        dir: out.to_path_buf(),
        source,
    })
}

fn write_schemas(out: &Path) -> io::Result<()> {
    let files = crate::protocol::schema::generate()?;
    std::fs::create_dir_all(out)?;
    for (name, text) in files {
        crate::atomic_file::write_atomic(&out.join(name), text.as_bytes())?;
    }
    Ok(())
}
