// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * A machine-readable classification of a turn error.
 */
export type CodexErrorInfo = "contextWindowExceeded" | "usageLimitExceeded" | "serverOverloaded" | "internalServerError" | "unauthorized" | "badRequest" | "sandboxError" | "other" | {
  httpConnectionFailed: {
    httpStatusCode: number | null;
  };
} | {
  responseStreamConnectionFailed: {
    httpStatusCode: number | null;
  };
} | {
  responseStreamDisconnected: {
    httpStatusCode: number | null;
  };
} | {
  responseTooManyFailedAttempts: {
    httpStatusCode: number | null;
  };
} | {
  activeTurnNotSteerable: {
    turnKind: string;
  };
};
