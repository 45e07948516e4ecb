// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The network access of an external sandbox.
 */
export type NetworkAccess = "restricted" | "enabled";
