// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * One environment of a loaded thread.
 */
export type ThreadEnvironment = {
  cwd: string;
  environmentId: string;
  runtimeWorkspaceRoots: Array<string>;
};
