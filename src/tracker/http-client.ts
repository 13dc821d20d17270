/**
 * A small, bounded HTTP(S) GET for trackers: redirects followed a few times, body size capped
 * (also after gzip inflation), one deadline for the whole exchange, and a fresh connection each
 * time (some trackers close without `Connection: close`, which breaks keep-alive pools).
 * @module
 */
import type { LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { gunzipSync, inflateSync } from "node:zlib";
import { VERSION } from "../version.js";
import { TrackerError } from "./errors.js";

export const MAX_REDIRECTS = 5;
/** Largest tracker reply body accepted, compressed or not. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface HttpGetOptions {
  /** Whole-exchange deadline. */
  timeoutMs: number;
  maxBytes?: number;
  /** Connect to this address instead of resolving the URL's host (BEP 7: one announce per family). */
  address?: { address: string; family: 4 | 6 };
  signal?: AbortSignal;
}

/** GET `url`, following redirects; every failure is a {@link TrackerError}. */
export async function httpGet(url: string, o: HttpGetOptions): Promise<HttpReply> {
  const deadline = Date.now() + o.timeoutMs;
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await getOnce(current, o, deadline);
    if (res.location === undefined) return res as HttpReply;
    if (hop >= MAX_REDIRECTS)
      throw new TrackerError("TRACKER_REDIRECTS", `more than ${MAX_REDIRECTS} redirects`);
    let next: URL;
    try {
      next = new URL(res.location, current);
    } catch {
      throw new TrackerError("TRACKER_REDIRECTS", "redirect to an invalid URL");
    }
    if (next.protocol !== "http:" && next.protocol !== "https:")
      throw new TrackerError("TRACKER_REDIRECTS", `redirect to a ${next.protocol} URL`);
    // A redirect elsewhere may resolve differently: the pinned address holds for the first host only.
    if (o.address && next.host !== new URL(current).host) o = { ...o, address: undefined };
    current = next.href;
  }
}

/** A final (non-redirect) reply. */
export interface HttpReply {
  status: number;
  statusText: string;
  body: Uint8Array;
}

interface Reply extends Partial<HttpReply> {
  location?: string;
}

function getOnce(url: string, o: HttpGetOptions, deadline: number): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new TrackerError("TRACKER_UNSUPPORTED", "not a valid URL"));
      return;
    }
    const mod = u.protocol === "https:" ? https : u.protocol === "http:" ? http : undefined;
    if (!mod) {
      reject(new TrackerError("TRACKER_UNSUPPORTED", `${u.protocol} trackers are not supported`));
      return;
    }
    if (o.signal?.aborted) {
      reject(new TrackerError("TRACKER_TIMEOUT", "cancelled"));
      return;
    }
    const max = o.maxBytes ?? MAX_BODY_BYTES;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      reject(new TrackerError("TRACKER_TIMEOUT", "no reply in time"));
      return;
    }
    let settled = false;
    const finish = (e: TrackerError | undefined, r?: Reply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      req.destroy();
      if (e) reject(e);
      else resolve(r!);
    };
    const pinned = o.address;
    const lookup = pinned
      ? (
          _host: string,
          opts: { all?: boolean },
          cb: (
            err: NodeJS.ErrnoException | null,
            address: string | LookupAddress[],
            family?: number,
          ) => void,
        ) => {
          if (opts.all) cb(null, [{ address: pinned.address, family: pinned.family }]);
          else cb(null, pinned.address, pinned.family);
        }
      : undefined;
    const req = mod.get(u, {
      agent: false,
      headers: {
        "user-agent": `Tessera/${VERSION}`,
        "accept-encoding": "gzip",
        connection: "close",
      },
      ...(lookup ? { lookup: lookup as never } : {}),
    });
    const timer = setTimeout(
      () =>
        finish(new TrackerError("TRACKER_TIMEOUT", `no complete reply within ${o.timeoutMs} ms`)),
      remaining,
    );
    const onAbort = () => finish(new TrackerError("TRACKER_TIMEOUT", "cancelled"));
    o.signal?.addEventListener("abort", onAbort);
    req.on("error", (e: NodeJS.ErrnoException) =>
      finish(new TrackerError("TRACKER_NETWORK", e.code ?? e.message, { cause: e })),
    );
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status)) {
        const loc = res.headers.location;
        if (!loc)
          finish(new TrackerError("TRACKER_HTTP_STATUS", `HTTP ${status} without Location`));
        else finish(undefined, { body: new Uint8Array(0), location: loc });
        return;
      }
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > max) {
        finish(
          new TrackerError(
            "TRACKER_TOO_LARGE",
            `reply of ${declared} bytes is over the ${max}-byte cap`,
          ),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > max) {
          finish(new TrackerError("TRACKER_TOO_LARGE", `reply is over the ${max}-byte cap`));
          return;
        }
        chunks.push(c);
      });
      res.on("error", (e: NodeJS.ErrnoException) =>
        finish(new TrackerError("TRACKER_NETWORK", e.code ?? e.message, { cause: e })),
      );
      res.on("end", () => {
        let body: Uint8Array = Buffer.concat(chunks, size);
        const enc = String(res.headers["content-encoding"] ?? "").toLowerCase();
        try {
          if (enc === "gzip" || enc === "x-gzip") body = gunzipSync(body, { maxOutputLength: max });
          else if (enc === "deflate") body = inflateSync(body, { maxOutputLength: max });
        } catch (e) {
          const tooBig = (e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
          finish(
            new TrackerError(
              tooBig ? "TRACKER_TOO_LARGE" : "TRACKER_BAD_RESPONSE",
              tooBig ? `reply inflates past the ${max}-byte cap` : `bad ${enc} body`,
              { cause: e },
            ),
          );
          return;
        }
        finish(undefined, { body, status, statusText: res.statusMessage ?? "" });
      });
    });
  });
}
