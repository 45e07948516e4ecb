// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { ApprovalsReviewer } from "./ApprovalsReviewer";
import type { AskForApproval } from "./AskForApproval";
import type { SandboxMode } from "./SandboxMode";

/**
 * `thread/resume` params.
 */
export type ThreadResumeParams = {
  approvalPolicy?: AskForApproval | null;
  approvalsReviewer?: ApprovalsReviewer | null;
  baseInstructions?: string | null;
  config?: { [key in string]?: JsonValue } | null;
  /**
   * agent-host extension: continue the backend's own session across turns.
   */
  continueSession?: boolean | null;
  cwd?: string | null;
  developerInstructions?: string | null;
  /**
   * Leave `thread.turns` empty in the result.
   */
  excludeTurns?: boolean | null;
  model?: string | null;
  modelProvider?: string | null;
  /**
   * Deprecated upstream.
   */
  personality?: string | null;
  sandbox?: SandboxMode | null;
  serviceTier?: string | null;
  threadId: string;
};
