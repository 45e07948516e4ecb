// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { ApprovalsReviewer } from "./ApprovalsReviewer";
import type { AskForApproval } from "./AskForApproval";
import type { ReasoningSummary } from "./ReasoningSummary";
import type { SandboxPolicy } from "./SandboxPolicy";
import type { UserInput } from "./UserInput";

/**
 * `turn/start` params. Overrides given here persist for later turns of the thread.
 */
export type TurnStartParams = {
  approvalPolicy?: AskForApproval | null;
  approvalsReviewer?: ApprovalsReviewer | null;
  /**
   * agent-host extension: run the turn in the background, so that it outlives this
   * client and this server (see the README).
   */
  background?: boolean | null;
  clientUserMessageId?: string | null;
  cwd?: string | null;
  /**
   * Reasoning effort (`low`, `medium`, `high`, …).
   */
  effort?: string | null;
  input: Array<UserInput>;
  model?: string | null;
  /**
   * A JSON Schema the final answer must follow (this turn only).
   */
  outputSchema?: JsonValue;
  personality?: string | null;
  sandboxPolicy?: SandboxPolicy | null;
  serviceTier?: string | null;
  summary?: ReasoningSummary | null;
  threadId: string;
};
