// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CommandAction } from "./CommandAction";
import type { CommandApprovalKind } from "./CommandApprovalKind";
import type { CommandExecutionApprovalDecision } from "./CommandExecutionApprovalDecision";
import type { NetworkApprovalContext } from "./NetworkApprovalContext";
import type { NetworkPolicyAmendment } from "./NetworkPolicyAmendment";

/**
 * `item/commandExecution/requestApproval` params. The optional members are left out of
 * the wire when absent, as Codex does.
 */
export type CommandExecutionRequestApprovalParams = {
  approvalId?: string | null;
  /**
   * The decisions the client may answer with (on the wire, not in the stable schema).
   */
  availableDecisions?: Array<CommandExecutionApprovalDecision> | null;
  command?: string | null;
  commandActions?: Array<CommandAction> | null;
  cwd?: string | null;
  environmentId: string | null;
  itemId: string;
  kind: CommandApprovalKind;
  networkApprovalContext?: NetworkApprovalContext | null;
  proposedExecpolicyAmendment?: Array<string> | null;
  proposedNetworkPolicyAmendments?: Array<NetworkPolicyAmendment> | null;
  reason?: string | null;
  /**
   * Unix milliseconds.
   */
  startedAtMs: number;
  threadId: string;
  turnId: string;
};
