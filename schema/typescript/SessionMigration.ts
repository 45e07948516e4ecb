// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * One session transcript to import.
 */
export type SessionMigration = {
  /**
   * The session's working directory.
   */
  cwd: string;
  /**
   * The transcript file.
   */
  path: string;
  title?: string | null;
};
