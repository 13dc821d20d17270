/**
 * MSE/PE over a {@link Transport}: runs an {@link MseInitiator} or {@link MseResponder} on the raw
 * stream, then carries the payload, RC4-encrypted or plain as negotiated, so the Peer above sees
 * plaintext either way. The handshake's timeout lives here (the state machines have no timers).
 */
import {
  CRYPTO_RC4,
  MseError,
  type MseInitiator,
  type MseResponder,
  type MseResult,
} from "../mse/index.js";
import type { Rc4 } from "../mse/rc4.js";
import type { Encryption, Transport } from "./transport.js";

export type { Encryption };

/** Default time for a whole MSE handshake. */
export const MSE_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Run the handshake on `raw` and resolve with the payload transport. `first` is sent first
 * (the initiator's Ya + PadA). On any failure `raw` is closed and the promise rejects (an
 * MseError for protocol faults, `MSE_TIMEOUT`, or `MSE_CLOSED` when the peer hangs up).
 */
export function mseHandshake(
  raw: Transport,
  machine: MseInitiator | MseResponder,
  o: { first?: Uint8Array; timeoutMs?: number } = {},
): Promise<MseTransport> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      raw.onData = () => {};
      raw.onClose = () => {};
      raw.close();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new MseError("MSE_TIMEOUT", "the MSE handshake took too long")),
      o.timeoutMs ?? MSE_HANDSHAKE_TIMEOUT_MS,
    );
    timer.unref?.();
    raw.onClose = (e) =>
      fail(new MseError("MSE_CLOSED", "the peer closed during the MSE handshake", { cause: e }));
    raw.onDrain = () => {};
    raw.onData = (chunk) => {
      if (settled) return;
      let step: ReturnType<MseResponder["receive"]>;
      try {
        step = machine.receive(chunk);
      } catch (e) {
        fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      if (step.send.length > 0) raw.write(step.send);
      if (step.done) {
        settled = true;
        clearTimeout(timer);
        resolve(new MseTransport(raw, step.done));
      }
    };
    if (o.first) raw.write([o.first]);
  });
}

/**
 * The payload stream after a handshake. Writes are encrypted into one buffer per write batch;
 * reads are decrypted in place (a transient read buffer is ours until the call returns). Bytes
 * that arrived with the handshake are delivered on the next turn of the event loop, once the
 * Peer above has wired its handlers; until then reads are held (the raw stream is paused).
 */
export class MseTransport implements Transport {
  readonly #raw: Transport;
  readonly #enc: Rc4 | undefined;
  readonly #dec: Rc4 | undefined;
  readonly result: MseResult;
  #held: Uint8Array[] = [];
  #flushed = false;
  #userPaused = false;
  #closed: { error: Error | undefined } | undefined;

  onData: (chunk: Uint8Array, transient: boolean) => void = () => {};
  onDrain: () => void = () => {};
  onClose: (error?: Error) => void = () => {};

  constructor(raw: Transport, result: MseResult) {
    this.#raw = raw;
    this.result = result;
    this.#enc = result.method === CRYPTO_RC4 ? result.encrypt : undefined;
    this.#dec = result.method === CRYPTO_RC4 ? result.decrypt : undefined;
    if (result.initial.length > 0) this.#held.push(result.initial);
    raw.pause();
    raw.onData = (chunk, transient) => {
      if (this.#dec) this.#dec.process(chunk);
      if (this.#flushed) this.onData(chunk, transient);
      else this.#held.push(transient ? new Uint8Array(chunk) : chunk);
    };
    raw.onDrain = () => this.onDrain();
    raw.onClose = (e) => {
      if (this.#flushed) this.onClose(e);
      else this.#closed = { error: e };
    };
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushed = true;
    for (const c of this.#held.splice(0)) this.onData(c, false);
    if (this.#closed) {
      this.onClose(this.#closed.error);
      return;
    }
    if (!this.#userPaused) this.#raw.resume();
  }

  get encryption(): Encryption {
    return this.#enc ? "rc4" : "plaintext";
  }
  get remoteAddress(): string {
    return this.#raw.remoteAddress;
  }
  get remotePort(): number {
    return this.#raw.remotePort;
  }
  get congested(): boolean {
    return this.#raw.congested;
  }

  write(chunks: Uint8Array[], onWritten?: () => void): boolean {
    const enc = this.#enc;
    if (!enc) return this.#raw.write(chunks, onWritten);
    let n = 0;
    for (const c of chunks) n += c.length;
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (const c of chunks) {
      enc.process(c, out, at);
      at += c.length;
    }
    // The chunks were copied: the caller may have them back at once.
    const ok = this.#raw.write([out]);
    if (onWritten) queueMicrotask(onWritten);
    return ok;
  }

  pause(): void {
    this.#userPaused = true;
    this.#raw.pause();
  }
  resume(): void {
    this.#userPaused = false;
    if (this.#flushed) this.#raw.resume();
  }
  close(): void {
    this.#raw.close();
  }
}

/** Most bytes a {@link FallbackTransport} keeps to replay (a handshake is 68). */
const MAX_REPLAY_BYTES = 16 * 1024;

/**
 * A plaintext connection that, if the peer hangs up before sending a byte (as peers that
 * require encryption do on a plaintext handshake), redials once with `redial` (MSE) and replays
 * what was written so far on the new connection. The Peer above never notices the switch.
 */
export class FallbackTransport implements Transport {
  #cur: Transport;
  #redial: (() => Promise<Transport>) | undefined;
  #written: Uint8Array[] | undefined = [];
  #writtenBytes = 0;
  #received = false;
  #redialing = false;
  #closed = false;
  #paused = false;

  onData: (chunk: Uint8Array, transient: boolean) => void = () => {};
  onDrain: () => void = () => {};
  onClose: (error?: Error) => void = () => {};

  constructor(raw: Transport, redial: () => Promise<Transport>) {
    this.#cur = raw;
    this.#redial = redial;
    this.#wire(raw);
  }

  #wire(t: Transport): void {
    t.onData = (chunk, transient) => {
      this.#received = true;
      this.#written = undefined;
      this.onData(chunk, transient);
    };
    t.onDrain = () => this.onDrain();
    t.onClose = (e) => {
      const redial = this.#redial;
      if (this.#received || this.#closed || !redial || !this.#written) {
        this.#closed = true;
        this.onClose(e);
        return;
      }
      this.#redial = undefined;
      this.#redialing = true;
      redial().then(
        (next) => {
          this.#redialing = false;
          if (this.#closed) {
            next.close();
            return;
          }
          this.#cur = next;
          this.#wire(next);
          const replay = this.#written ?? [];
          this.#written = [];
          if (replay.length > 0) next.write(replay);
          if (this.#paused) next.pause();
        },
        () => {
          this.#redialing = false;
          if (this.#closed) return;
          this.#closed = true;
          this.onClose(e);
        },
      );
    };
  }

  get encryption(): Encryption {
    return this.#cur.encryption ?? "none";
  }
  get remoteAddress(): string {
    return this.#cur.remoteAddress;
  }
  get remotePort(): number {
    return this.#cur.remotePort;
  }
  get congested(): boolean {
    return this.#cur.congested;
  }

  write(chunks: Uint8Array[], onWritten?: () => void): boolean {
    if (this.#written) {
      for (const c of chunks) {
        this.#writtenBytes += c.length;
        // A copy (a Buffer's slice() would be a view).
        this.#written.push(new Uint8Array(c));
      }
      if (this.#writtenBytes > MAX_REPLAY_BYTES) {
        this.#written = undefined;
        this.#redial = undefined;
      }
    }
    if (this.#redialing) {
      if (onWritten) queueMicrotask(onWritten);
      return true;
    }
    return this.#cur.write(chunks, onWritten);
  }

  pause(): void {
    this.#paused = true;
    this.#cur.pause();
  }
  resume(): void {
    this.#paused = false;
    this.#cur.resume();
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cur.close();
    if (this.#redialing) this.onClose();
  }
}
