// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The sandbox mode of `thread/start`, `thread/resume` and `thread/fork` (kebab-case).
 */
export type SandboxMode = "read-only" | "workspace-write" | "danger-full-access";
