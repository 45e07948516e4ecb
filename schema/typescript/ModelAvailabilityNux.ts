// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * A notice shown where a model is picked.
 */
export type ModelAvailabilityNux = {
  message: string;
};
