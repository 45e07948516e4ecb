// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { CodexErrorInfo } from "./CodexErrorInfo";

/**
 * Why a turn failed.
 */
export type TurnError = {
  additionalDetails: string | null;
  codexErrorInfo: CodexErrorInfo | null;
  message: string;
  misalignment: JsonValue;
};
