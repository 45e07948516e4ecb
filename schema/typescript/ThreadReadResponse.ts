// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Thread } from "./Thread";
import type { ThreadReadState } from "./ThreadReadState";

/**
 * `thread/read` result.
 */
export type ThreadReadResponse = {
  /**
   * Not in the stable schema.
   */
  readState: ThreadReadState | null;
  thread: Thread;
};
