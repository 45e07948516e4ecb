// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Who reviews approval requests.
 */
export type ApprovalsReviewer = "user" | "auto_review" | "guardian_subagent";
