// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CommandExecutionApprovalDecision } from "./CommandExecutionApprovalDecision";

/**
 * The result of `item/commandExecution/requestApproval`.
 */
export type CommandExecutionRequestApprovalResponse = {
  decision: CommandExecutionApprovalDecision;
};
