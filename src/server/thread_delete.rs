//! `thread/delete`, as Codex 0.169.0 answers it: the thread's running turn is stopped first
//! (it ends `interrupted`, with its one `turn/completed` to a subscribed client), then every
//! record of the thread is removed (`crate::thread_delete`), a loaded thread goes `notLoaded`
//! before the response, and `thread/deleted` follows it. `thread/read`, `thread/list` and
//! `thread/resume` no longer find the thread, in this server or any other on the state
//! directory.

use std::time::Duration;

use serde_json::json;

use super::state::{Ephemeral, Reply, Server};
use super::threads::{no_rollout, thread_id};
use crate::jsonrpc::{ErrorObject, RequestId};
use crate::protocol::*;
use crate::thread_delete::{DeleteError, delete_thread};

/// How long a turn of the thread that runs outside this server (another server's, or a
/// background runner's) may take to stop.
const STOP_WITHIN: Duration = Duration::from_secs(10);

impl Server {
    pub(crate) async fn thread_delete(
        &mut self,
        id: &RequestId,
        p: ThreadDeleteParams,
    ) -> Option<Reply> {
        let uuid = match thread_id(&p.thread_id) {
            Ok(uuid) => uuid,
            Err(err) => return Some(Err(err)),
        };
        if self
            .loaded
            .get(&uuid)
            .is_some_and(|loaded| loaded.ephemeral == Ephemeral::Yes)
        {
            return Some(Err(ErrorObject::request_failed(format!(
                "thread is not persisted and cannot be deleted: {uuid}"
            ))));
        }
        match self.store.read_thread(uuid) {
            Ok(Some(_)) => {}
            Ok(None) => return Some(Err(no_rollout(&p.thread_id))),
            Err(err) => return Some(Err(ErrorObject::internal(err))),
        }
        self.stop_active_turn(uuid).await;
        let deleted = tokio::task::block_in_place(|| delete_thread(&self.store, uuid, STOP_WITHIN));
        match deleted {
            Ok(_) => {}
            Err(DeleteError::NotFound(_)) => return Some(Err(no_rollout(&p.thread_id))),
            Err(err) => {
                return Some(Err(ErrorObject::internal(format!(
                    "cannot delete thread {uuid}: {err}"
                ))));
            }
        }
        if self.loaded.contains_key(&uuid) {
            self.unload(&uuid);
            self.notify(ServerNotification::ThreadStatusChanged(
                ThreadStatusChangedNotification {
                    thread_id: p.thread_id.clone(),
                    status: ThreadStatus::NotLoaded,
                },
            ))
            .await;
        }
        self.respond_now(id, Ok(json!({}))).await;
        self.notify(ServerNotification::ThreadDeleted(
            ThreadDeletedNotification {
                thread_id: p.thread_id,
            },
        ))
        .await;
        None
    }
}
