// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The phase of an agent message.
 */
export type MessagePhase = "commentary" | "partial_answer" | "final_answer";
