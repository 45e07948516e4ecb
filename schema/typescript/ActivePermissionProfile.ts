// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The permission profile in effect for a thread.
 */
export type ActivePermissionProfile = {
  extends: string | null;
  id: string;
};
