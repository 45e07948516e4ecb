// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Git facts about a thread's working directory.
 */
export type GitInfo = {
  branch: string | null;
  originUrl: string | null;
  sha: string | null;
};
