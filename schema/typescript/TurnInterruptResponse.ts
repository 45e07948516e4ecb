// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * `turn/interrupt` result: `{}`. The turn's end is reported by `turn/completed`.
 */
export type TurnInterruptResponse = { [key in string]?: JsonValue };
