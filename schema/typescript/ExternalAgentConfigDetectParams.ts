// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `externalAgentConfig/detect` params.
 */
export type ExternalAgentConfigDetectParams = {
  /**
   * Working directories for repository-scoped detection.
   */
  cwds?: Array<string> | null;
  /**
   * Detect what lives under the user's home (sessions are home-scoped).
   */
  includeHome?: boolean;
  /**
   * The oldest session detected, in days (default 30).
   */
  maxSessionAgeDays?: number | null;
  /**
   * How many sessions are detected at most (default 50).
   */
  maxSessions?: number | null;
  migrationSource?: string | null;
  /**
   * Deprecated upstream; ignored.
   */
  source?: string | null;
};
