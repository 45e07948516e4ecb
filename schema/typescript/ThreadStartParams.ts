// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { ApprovalsReviewer } from "./ApprovalsReviewer";
import type { AskForApproval } from "./AskForApproval";
import type { SandboxMode } from "./SandboxMode";
import type { SessionStartSource } from "./SessionStartSource";

/**
 * `thread/start` params: every member is optional.
 */
export type ThreadStartParams = {
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
   * Experimental upstream: present only so the server can reject it without the
   * `experimentalApi` capability.
   */
  dynamicTools?: JsonValue;
  /**
   * An ephemeral thread is never stored nor listed.
   */
  ephemeral?: boolean | null;
  /**
   * Experimental upstream (test field), gated like `dynamicTools`.
   */
  mockExperimentalField?: JsonValue;
  model?: string | null;
  modelProvider?: string | null;
  /**
   * Deprecated upstream.
   */
  personality?: string | null;
  sandbox?: SandboxMode | null;
  serviceName?: string | null;
  serviceTier?: string | null;
  sessionStartSource?: SessionStartSource | null;
  threadSource?: string | null;
};
