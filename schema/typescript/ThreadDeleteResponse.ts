// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * `thread/delete` result: `{}`. `thread/deleted` follows it.
 */
export type ThreadDeleteResponse = { [key in string]?: JsonValue };
