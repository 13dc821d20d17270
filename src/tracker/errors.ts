import { TesseraError } from "../errors.js";

/**
 * Why a tracker exchange failed. Stable codes for scripts and tests:
 * - `TRACKER_FAILURE`: the tracker answered with a `failure reason` (or a UDP error packet);
 * - `TRACKER_BAD_RESPONSE`: the reply is not a valid tracker response (the message says which
 *   field or byte);
 * - `TRACKER_HTTP_STATUS`: an HTTP status other than 200 (after redirects);
 * - `TRACKER_TOO_LARGE`: the body (or its gzip inflation) exceeds the cap;
 * - `TRACKER_REDIRECTS`: too many redirects, or a redirect to a non-HTTP URL;
 * - `TRACKER_TIMEOUT`: no complete reply in time;
 * - `TRACKER_NETWORK`: DNS, connection or socket errors;
 * - `TRACKER_UNSUPPORTED`: a URL scheme we do not speak (e.g. `wss:`), or scrape not supported.
 */
export type TrackerErrorCode =
  | "TRACKER_FAILURE"
  | "TRACKER_BAD_RESPONSE"
  | "TRACKER_HTTP_STATUS"
  | "TRACKER_TOO_LARGE"
  | "TRACKER_REDIRECTS"
  | "TRACKER_TIMEOUT"
  | "TRACKER_NETWORK"
  | "TRACKER_UNSUPPORTED";

export class TrackerError extends TesseraError {
  declare readonly code: TrackerErrorCode;
  constructor(code: TrackerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Longest tracker-supplied text we keep (failure reasons, warnings). */
export const MAX_TRACKER_TEXT = 300;

/**
 * Make tracker-supplied bytes safe to show: decoded as UTF-8 (invalid sequences replaced), control
 * characters escaped, cut to {@link MAX_TRACKER_TEXT} characters.
 */
export function trackerText(bytes: Uint8Array | string): string {
  const s = typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8");
  const cut = s.length > MAX_TRACKER_TEXT ? `${s.slice(0, MAX_TRACKER_TEXT)}…` : s;
  return cut.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
