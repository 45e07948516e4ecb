// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * `command/exec/resize` result: `{}`.
 */
export type CommandExecResizeResponse = { [key in string]?: JsonValue };
