// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * What a command does, as parsed from its command line. Tagged by `type`.
 */
export type CommandAction = {
  command: string;
  name: string;
  path: string;
  type: "read";
} | {
  command: string;
  path: string | null;
  type: "listFiles";
} | {
  command: string;
  path: string | null;
  query: string | null;
  type: "search";
} | {
  command: string;
  type: "unknown";
};
