// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ModelAccessPrograms } from "./ModelAccessPrograms";
import type { ModelAvailabilityNux } from "./ModelAvailabilityNux";
import type { ModelServiceTier } from "./ModelServiceTier";
import type { ModelUpgradeInfo } from "./ModelUpgradeInfo";
import type { ReasoningEffortOption } from "./ReasoningEffortOption";

/**
 * One model, with every member Codex writes, in its order.
 */
export type Model = {
  additionalSpeedTiers: Array<string>;
  availabilityNux: ModelAvailabilityNux | null;
  availableAccessPrograms: ModelAccessPrograms | null;
  defaultReasoningEffort: string;
  defaultServiceTier: string | null;
  description: string;
  displayName: string;
  hidden: boolean;
  id: string;
  /**
   * `text`, `image`, `audio`.
   */
  inputModalities: Array<string>;
  isDefault: boolean;
  /**
   * The name a thread or turn gives as its `model`.
   */
  model: string;
  modelSpecialty: string | null;
  /**
   * `disabled`, `v1`, `v2`, or `null`.
   */
  multiAgentVersion: string | null;
  serviceTiers: Array<ModelServiceTier>;
  supportedReasoningEfforts: Array<ReasoningEffortOption>;
  supportsPersonality: boolean;
  upgrade: string | null;
  upgradeInfo: ModelUpgradeInfo | null;
};
