// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * `thread/archive` result: `{}`. `thread/archived` follows it.
 */
export type ThreadArchiveResponse = { [key in string]?: JsonValue };
