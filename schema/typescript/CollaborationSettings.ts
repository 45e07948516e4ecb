// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The settings of a collaboration mode.
 */
export type CollaborationSettings = {
  developer_instructions: string | null;
  model: string | null;
  reasoning_effort: string | null;
};
