// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadUnsubscribeStatus } from "./ThreadUnsubscribeStatus";

/**
 * `thread/unsubscribe` result.
 */
export type ThreadUnsubscribeResponse = {
  status: ThreadUnsubscribeStatus;
};
