//! `thread/memoryMode/set` (experimental upstream): whether the thread may be used for
//! memories, stored in the thread's record. Codex answers `{}` and sends no notification;
//! agent-host keeps the mode with the thread (no backend of ours reads memories).

use super::state::{Ephemeral, Reply, Server, to_value};
use super::threads::{no_rollout, thread_id};
use crate::jsonrpc::ErrorObject;
use crate::protocol::*;
use crate::store::{MemoryMode, StoreError};

impl Server {
    /// Codex's gate for an experimental method or member (`descriptor`): without the
    /// `experimentalApi` capability it is refused. Codex checks it after the params parsed.
    pub(crate) fn require_experimental(&self, descriptor: &str) -> Result<(), ErrorObject> {
        if self.session.as_ref().is_some_and(|s| s.experimental_api) {
            return Ok(());
        }
        Err(ErrorObject::request_failed(format!(
            "{descriptor} requires experimentalApi capability"
        )))
    }

    pub(crate) fn thread_memory_mode_set(&mut self, p: ThreadMemoryModeSetParams) -> Reply {
        self.require_experimental("thread/memoryMode/set")?;
        let uuid = thread_id(&p.thread_id)?;
        if self
            .loaded
            .get(&uuid)
            .is_some_and(|loaded| loaded.ephemeral == Ephemeral::Yes)
        {
            return Err(ErrorObject::request_failed(format!(
                "ephemeral thread does not support metadata updates: {}",
                p.thread_id
            )));
        }
        let mode = match p.mode {
            ThreadMemoryMode::Enabled => MemoryMode::Enabled,
            ThreadMemoryMode::Disabled => MemoryMode::Disabled,
        };
        match self.store.read_thread(uuid) {
            Ok(Some(record)) if !record.archived => {}
            Ok(_) => return Err(no_rollout(&p.thread_id)),
            Err(err) => return Err(ErrorObject::internal(err)),
        }
        match self
            .store
            .update_thread(uuid, |record| record.memory_mode = mode)
        {
            Ok(stored) => {
                if let Some(loaded) = self.loaded.get_mut(&uuid) {
                    loaded.record = stored;
                }
            }
            Err(StoreError::NotFound(_)) => return Err(no_rollout(&p.thread_id)),
            Err(err) => return Err(ErrorObject::internal(err)),
        }
        to_value(&ThreadMemoryModeSetResponse {})
    }
}
