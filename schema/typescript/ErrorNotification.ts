// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { TurnError } from "./TurnError";

/**
 * `error`: a turn error; the same object is in `turn.error` of the failed turn.
 */
export type ErrorNotification = {
  error: TurnError;
  threadId: string;
  turnId: string;
  willRetry: boolean;
};
