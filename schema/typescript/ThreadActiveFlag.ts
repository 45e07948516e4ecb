// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Why an active thread is waiting.
 */
export type ThreadActiveFlag = "waitingOnApproval" | "waitingOnUserInput";
