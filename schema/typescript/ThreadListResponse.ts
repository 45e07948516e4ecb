// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Thread } from "./Thread";
import type { ThreadReadState } from "./ThreadReadState";

/**
 * `thread/list` result.
 */
export type ThreadListResponse = {
  backwardsCursor: string | null;
  /**
   * The threads of this page (`turns` always empty).
   */
  data: Array<Thread>;
  /**
   * `null` on the last page.
   */
  nextCursor: string | null;
  /**
   * Per thread id, its read state (not in the stable schema).
   */
  readStates: { [key in string]?: ThreadReadState };
};
