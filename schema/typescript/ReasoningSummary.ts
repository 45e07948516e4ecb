// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * How much reasoning summary the model should produce (`turn/start.summary`).
 */
export type ReasoningSummary = "auto" | "concise" | "detailed" | "none";
