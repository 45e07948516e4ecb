// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The model a model's upgrade leads to.
 */
export type ModelUpgradeInfo = {
  migrationMarkdown: string | null;
  model: string;
  modelLink: string | null;
  retirementAt: number | null;
  upgradeCopy: string | null;
};
