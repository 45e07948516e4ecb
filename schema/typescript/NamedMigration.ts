// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * A skill, MCP server, hook, subagent or command, by name (Codex's `SkillMigration`,
 * `McpServerMigration`, … all have this one member).
 */
export type NamedMigration = {
  name: string;
};
