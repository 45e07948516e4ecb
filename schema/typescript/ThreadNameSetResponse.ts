// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * `thread/name/set` result: `{}`. `thread/name/updated` follows it.
 */
export type ThreadNameSetResponse = { [key in string]?: JsonValue };
