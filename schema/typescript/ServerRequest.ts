// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CommandExecutionRequestApprovalParams } from "./CommandExecutionRequestApprovalParams";
import type { FileChangeRequestApprovalParams } from "./FileChangeRequestApprovalParams";

/**
 * A request from the server to the client, by method. Serializes as
 * `{"method","params"}`; the JSON-RPC layer adds the id.
 */
export type ServerRequest = {
  method: "item/commandExecution/requestApproval";
  params: CommandExecutionRequestApprovalParams;
} | {
  method: "item/fileChange/requestApproval";
  params: FileChangeRequestApprovalParams;
};
