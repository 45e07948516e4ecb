// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ActivePermissionProfile } from "./ActivePermissionProfile";
import type { ApprovalsReviewer } from "./ApprovalsReviewer";
import type { AskForApproval } from "./AskForApproval";
import type { SandboxPolicy } from "./SandboxPolicy";
import type { Thread } from "./Thread";

/**
 * `thread/start` result. `thread/started` follows it.
 */
export type ThreadStartResponse = {
  activePermissionProfile: ActivePermissionProfile | null;
  approvalPolicy: AskForApproval;
  approvalsReviewer: ApprovalsReviewer;
  cwd: string;
  disabledPluginIds: Array<string>;
  instructionSources: Array<string>;
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
};
