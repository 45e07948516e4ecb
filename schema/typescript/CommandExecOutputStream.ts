// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Which output stream a delta came from.
 */
export type CommandExecOutputStream = "stdout" | "stderr";
