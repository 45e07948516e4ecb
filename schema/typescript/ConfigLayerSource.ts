// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Where a layer comes from, by `type`.
 */
export type ConfigLayerSource = {
  file: string;
  type: "packagedDefaults";
} | {
  domain: string;
  key: string;
  type: "mdm";
} | {
  file: string;
  type: "system";
} | {
  id: string;
  name: string;
  type: "enterpriseManaged";
} | {
  file: string;
  profile: string | null;
  type: "user";
} | {
  dotCodexFolder: string;
  type: "project";
} | {
  type: "sessionFlags";
} | {
  file: string;
  type: "legacyManagedConfigTomlFromFile";
} | {
  type: "legacyManagedConfigTomlFromMdm";
};
