// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { ActivePermissionProfile } from "./ActivePermissionProfile";
import type { ApprovalsReviewer } from "./ApprovalsReviewer";
import type { AskForApproval } from "./AskForApproval";
import type { CollaborationMode } from "./CollaborationMode";
import type { SandboxPolicy } from "./SandboxPolicy";
import type { Thread } from "./Thread";

/**
 * `thread/resume` result.
 */
export type ThreadResumeResponse = {
  activePermissionProfile: ActivePermissionProfile | null;
  approvalPolicy: AskForApproval;
  approvalsReviewer: ApprovalsReviewer;
  collaborationMode?: CollaborationMode | null;
  cwd: string;
  disabledPluginIds: Array<string>;
  initialTurnsPage: JsonValue;
  instructionSources: Array<string>;
  itemsBackwardsCursor: string | null;
  model: string;
  modelProvider: string;
  /**
   * E.g. `explicitRequestOnly`.
   */
  multiAgentMode: string | null;
  reasoningEffort: string | null;
  runtimeWorkspaceRoots: Array<string>;
  sandbox: SandboxPolicy;
  serviceTier: string | null;
  thread: Thread;
  turnsBackwardsCursor: string | null;
};
