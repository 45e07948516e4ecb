// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Where a review runs.
 */
export type ReviewDelivery = "inline" | "detached";
