// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * How a session was started (`thread/start.sessionStartSource`).
 */
export type SessionStartSource = "startup" | "clear";
