// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { TokenUsageBreakdown } from "./TokenUsageBreakdown";

/**
 * The token usage of a thread: `total` over the thread, `last` of the latest model request.
 */
export type ThreadTokenUsage = {
  last: TokenUsageBreakdown;
  modelContextWindow: number | null;
  total: TokenUsageBreakdown;
};
