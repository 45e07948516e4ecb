// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The access programs a caller may select for a model.
 */
export type ModelAccessPrograms = {
  cyber: Array<string>;
};
