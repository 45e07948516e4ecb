// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { NamedMigration } from "./NamedMigration";
import type { PluginsMigration } from "./PluginsMigration";
import type { SessionMigration } from "./SessionMigration";

/**
 * What exactly an item migrates.
 */
export type MigrationDetails = {
  commands: Array<NamedMigration>;
  hooks: Array<NamedMigration>;
  mcpServers: Array<NamedMigration>;
  memory?: Array<string>;
  plugins: Array<PluginsMigration>;
  sessions: Array<SessionMigration>;
  skills: Array<NamedMigration>;
  subagents: Array<NamedMigration>;
};
