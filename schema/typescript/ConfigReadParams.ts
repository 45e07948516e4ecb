// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `config/read` params.
 */
export type ConfigReadParams = {
  /**
   * Codex reads project layers between `cwd` and the repository root; we have none.
   */
  cwd?: string | null;
  /**
   * Also return every layer with its own table.
   */
  includeLayers?: boolean;
};
