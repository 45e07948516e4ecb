// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * `thread/memoryMode/set` result: `{}`, and no notification.
 */
export type ThreadMemoryModeSetResponse = { [key in string]?: JsonValue };
