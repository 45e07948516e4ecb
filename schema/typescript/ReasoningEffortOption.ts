// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * A reasoning effort a model takes, described.
 */
export type ReasoningEffortOption = {
  description: string;
  reasoningEffort: string;
};
