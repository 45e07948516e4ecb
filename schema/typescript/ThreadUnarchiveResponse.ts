// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Thread } from "./Thread";

/**
 * `thread/unarchive` result (status `notLoaded`). `thread/unarchived` follows it.
 */
export type ThreadUnarchiveResponse = {
  thread: Thread;
};
