/**
 * BEP 21 upload_only. The handshake key `upload_only` (see `handshake.ts`) says the sender will not
 * download; libtorrent also registers an extension message named `upload_only` in `m` so the
 * state can change mid-connection (a partial seed that selects more files, a download that
 * completes). Its payload is one byte: non-zero = upload only.
 */
import { ExtError } from "./errors.js";

/** Extension name in the `m` dictionary (libtorrent's convention). */
export const UPLOAD_ONLY = "upload_only";

/** Payload of an upload_only message. */
export function encodeUploadOnly(uploadOnly: boolean): Uint8Array {
  return Uint8Array.of(uploadOnly ? 1 : 0);
}

/**
 * Decode an upload_only payload: the first byte decides; extra bytes are ignored, as libtorrent
 * does. @throws {ExtError} `UPLOAD_ONLY_BAD_LENGTH` when empty.
 */
export function decodeUploadOnly(payload: Uint8Array): boolean {
  if (payload.length < 1) {
    throw new ExtError("UPLOAD_ONLY_BAD_LENGTH", "upload_only message without a byte");
  }
  return payload[0] !== 0;
}
