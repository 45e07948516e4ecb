// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { NetworkAccess } from "./NetworkAccess";

/**
 * The full sandbox policy (`turn/start.sandboxPolicy`, `command/exec.sandboxPolicy`, and the
 * `sandbox` member of thread responses). Tagged by `type`, camelCase.
 */
export type SandboxPolicy = {
  type: "dangerFullAccess";
} | {
  networkAccess?: boolean;
  type: "readOnly";
} | {
  networkAccess?: NetworkAccess;
  type: "externalSandbox";
} | {
  excludeSlashTmp?: boolean;
  excludeTmpdirEnvVar?: boolean;
  networkAccess?: boolean;
  type: "workspaceWrite";
  writableRoots?: Array<string>;
};
