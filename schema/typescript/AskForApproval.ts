// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * When the agent asks the client for approval (`approvalPolicy`).
 */
export type AskForApproval = "untrusted" | "on-request" | "never" | {
  granular: JsonValue;
};
