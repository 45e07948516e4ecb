// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * Which kind of client session created a thread. App-server threads are `vscode`.
 */
export type SessionSource = "cli" | "vscode" | "exec" | "appServer" | "unknown" | {
  custom: JsonValue;
} | {
  subAgent: JsonValue;
};
