// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * A service tier a model offers.
 */
export type ModelServiceTier = {
  description: string;
  id: string;
  name: string;
};
