// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * How much of a turn's items `Turn.items` holds.
 */
export type ItemsView = "notLoaded" | "summary" | "full";
