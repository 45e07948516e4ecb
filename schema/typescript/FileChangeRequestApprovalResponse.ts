// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { FileChangeApprovalDecision } from "./FileChangeApprovalDecision";

/**
 * The result of `item/fileChange/requestApproval`.
 */
export type FileChangeRequestApprovalResponse = {
  decision: FileChangeApprovalDecision;
};
