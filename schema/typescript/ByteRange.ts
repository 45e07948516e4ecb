// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * A byte range inside a text input.
 */
export type ByteRange = {
  end: number;
  start: number;
};
