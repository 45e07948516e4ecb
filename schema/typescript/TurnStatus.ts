// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The state of a turn. Every turn ends in exactly one of the three terminal states.
 */
export type TurnStatus = "inProgress" | "completed" | "interrupted" | "failed";
