// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * What a review looks at. Tagged by `type`.
 */
export type ReviewTarget = {
  type: "uncommittedChanges";
} | {
  branch: string;
  type: "baseBranch";
} | {
  sha: string;
  title?: string | null;
  type: "commit";
} | {
  instructions: string;
  type: "custom";
};
