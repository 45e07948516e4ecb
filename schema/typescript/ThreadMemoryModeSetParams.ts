// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadMemoryMode } from "./ThreadMemoryMode";

/**
 * `thread/memoryMode/set` params (experimental upstream: it needs the `experimentalApi`
 * capability).
 */
export type ThreadMemoryModeSetParams = {
  mode: ThreadMemoryMode;
  threadId: string;
};
