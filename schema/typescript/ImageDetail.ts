// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The detail level of an image input.
 */
export type ImageDetail = "auto" | "low" | "high" | "original";
