// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadReadMarker } from "./ThreadReadMarker";

/**
 * How far a reader has read a thread (`thread/list.readStates`, `thread/read.readState`).
 */
export type ThreadReadState = {
  firstUnread: ThreadReadMarker | null;
  revision: string;
};
