/**
 * Message Stream Encryption / Protocol Encryption (MSE/PE, the Vuze/libtorrent specification),
 * sans-I/O: an initiator and a responder that take bytes in and return bytes to send and, once
 * the handshake is over, the negotiated streams. No sockets, no timers (the edge owns those).
 *
 * ```
 * 1 A→B: Ya, PadA
 * 2 B→A: Yb, PadB
 * 3 A→B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *        ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 * 4 B→A: ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 * 5 A→B: ENCRYPT2(payload)
 * ```
 * Every read is bounded: Y is 96 bytes, each pad at most 512, req1 must be found within 512 + 20
 * bytes after Ya and VC within 512 + 8 after Yb, IA is at most 65535 bytes (its length field).
 */
import { createDiffieHellman, createHash, type DiffieHellman, randomBytes } from "node:crypto";
import { TesseraError } from "../errors.js";
import { Rc4 } from "./rc4.js";

export class MseError extends TesseraError {}

/** The 768-bit prime of the specification (the Oakley group 1 prime). */
export const MSE_PRIME = Buffer.from(
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563",
  "hex",
);
export const MSE_GENERATOR = 2;
/** Bytes of a DH public key and of the shared secret S. */
export const KEY_BYTES = 96;
/** Longest PadA/PadB/PadC/PadD. */
export const MAX_PAD = 512;
/** Bytes of keystream thrown away before use. */
export const RC4_DISCARD = 1024;
export const CRYPTO_PLAINTEXT = 0x01;
export const CRYPTO_RC4 = 0x02;
/** Verification constant: 8 zero bytes. */
export const VC = new Uint8Array(8);
/** Longest initial payload (IA): its length field is 16 bits. */
export const MAX_IA = 0xffff;
/** Private keys: 160 random bits, as the specification recommends. */
const PRIVATE_KEY_BYTES = 20;

export type CryptoMethod = typeof CRYPTO_PLAINTEXT | typeof CRYPTO_RC4;

/** What a finished handshake hands on. */
export interface MseResult {
  /** The method selected: plaintext (0x01) or RC4 (0x02). */
  method: CryptoMethod;
  /** Keystream for the bytes we send after the handshake (RC4 only). */
  encrypt: Rc4 | undefined;
  /** Keystream for the bytes we receive after the handshake (RC4 only). */
  decrypt: Rc4 | undefined;
  /** Payload bytes already received, decrypted: the responder's IA, then anything that followed. */
  initial: Uint8Array;
  /** The torrent (SKEY) the connection is for. */
  infoHash: Uint8Array;
}

export interface MseStep {
  /** Bytes to send now, in order. */
  send: Uint8Array[];
  /** Set once the handshake is complete (at most once). */
  done: MseResult | undefined;
}

interface CommonOptions {
  /** Randomness (tests inject a seeded one); default crypto.randomBytes. */
  random?: (n: number) => Uint8Array;
  /** Longest PadA/PadB we send (a random length up to it); default 512, at most 512. */
  maxPad?: number;
  /** Length of PadC/PadD we send (default 0: reserved by the specification). */
  padCD?: number;
}

export interface InitiatorOptions extends CommonOptions {
  infoHash: Uint8Array;
  /** crypto_provide bitfield (CRYPTO_PLAINTEXT | CRYPTO_RC4). */
  provide: number;
  /** Initial payload (IA), sent encrypted in step 3; default none. */
  initialPayload?: Uint8Array;
}

export interface ResponderOptions extends CommonOptions {
  /** Find the info-hash whose HASH('req2', info-hash) is `req2`, or undefined. */
  lookup: (req2: Uint8Array) => Uint8Array | undefined;
  /** Methods we accept (bitfield). */
  allow: number;
  /** Pick plaintext over RC4 when the initiator offers both (default false: RC4). */
  preferPlaintext?: boolean;
}

// ---- primitives ------------------------------------------------------------------------------

export function sha1(...parts: (Uint8Array | string)[]): Uint8Array {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HASH('req2', SKEY): what a responder matches (after undoing req3) against its torrents. */
export function req2Hash(infoHash: Uint8Array): Uint8Array {
  return sha1("req2", infoHash);
}

/** The RC4 keys of a connection: A's sending key (keyA) and B's (keyB). */
export function deriveKeys(
  s: Uint8Array,
  skey: Uint8Array,
): { keyA: Uint8Array; keyB: Uint8Array } {
  return { keyA: sha1("keyA", s, skey), keyB: sha1("keyB", s, skey) };
}

let sharedDh: DiffieHellman | undefined;
/**
 * One DH object for the process: creating one checks the prime (~30 ms); setting a private key
 * and deriving from it is ~0.2 ms. Safe to share: every use is synchronous.
 */
function dh(): DiffieHellman {
  sharedDh ??= createDiffieHellman(MSE_PRIME, MSE_GENERATOR);
  return sharedDh;
}

function leftPad(b: Uint8Array, n: number): Uint8Array {
  if (b.length === n) return new Uint8Array(b);
  const out = new Uint8Array(n);
  out.set(b.subarray(Math.max(0, b.length - n)), Math.max(0, n - b.length));
  return out;
}

/** Our public key Y = G^X mod P, 96 bytes. */
export function publicKey(privateKey: Uint8Array): Uint8Array {
  const d = dh();
  d.setPrivateKey(privateKey);
  d.generateKeys();
  return leftPad(d.getPublicKey(), KEY_BYTES);
}

/** The shared secret S = Y^X mod P, 96 bytes; a degenerate Y (0, 1, P-1, ≥ P) is refused. */
export function sharedSecret(privateKey: Uint8Array, peerKey: Uint8Array): Uint8Array {
  if (isDegenerate(peerKey))
    throw new MseError("MSE_BAD_KEY", "the peer's DH public key is degenerate");
  const d = dh();
  d.setPrivateKey(privateKey);
  try {
    return leftPad(d.computeSecret(peerKey), KEY_BYTES);
  } catch (e) {
    throw new MseError("MSE_BAD_KEY", "the peer's DH public key is invalid", { cause: e });
  }
}

function isDegenerate(y: Uint8Array): boolean {
  // 0 or 1
  let high = 0;
  for (let i = 0; i < y.length - 1; i++) high |= y[i]!;
  if (high === 0 && y[y.length - 1]! <= 1) return true;
  // ≥ P - 1 (compare with P - 1: P ends in 0x63, P - 1 in 0x62)
  for (let i = 0; i < KEY_BYTES; i++) {
    const p = i === KEY_BYTES - 1 ? MSE_PRIME[i]! - 1 : MSE_PRIME[i]!;
    if (y[i]! !== p) return y[i]! > p;
  }
  return true;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, limit: number): number {
  const last = Math.min(hay.length, limit) - needle.length;
  const first = needle[0]!;
  outer: for (let i = from; i <= last; i++) {
    if (hay[i] !== first) continue;
    for (let k = 1; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function copy(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * `buf` followed by a copy of `chunk`. `buf` is a view into a store of our own; the chunk goes
 * into the store's free tail when it fits, else into a new store of twice the size, so a peer
 * that trickles its (up to 64 KiB) initial payload a byte at a time costs linear, not quadratic,
 * copying. Bytes before `buf` (taken already) and in it are never overwritten.
 */
function append(buf: Uint8Array, chunk: Uint8Array): Uint8Array {
  if (buf.length === 0) return copy(chunk);
  const store = buf.buffer;
  const end = buf.byteOffset + buf.length;
  if (store instanceof ArrayBuffer && store.byteLength - end >= chunk.length) {
    new Uint8Array(store, end, chunk.length).set(chunk);
    return new Uint8Array(store, buf.byteOffset, buf.length + chunk.length);
  }
  const out = new Uint8Array(Math.max(1024, 2 * (buf.length + chunk.length)));
  out.set(buf, 0);
  out.set(chunk, buf.length);
  return out.subarray(0, buf.length + chunk.length);
}

function padLength(random: (n: number) => Uint8Array, max: number): number {
  if (max <= 0) return 0;
  const r = random(2);
  return ((r[0]! << 8) | r[1]!) % (max + 1);
}

function checkPadOption(n: number | undefined, name: string): number {
  const v = n ?? MAX_PAD;
  if (!Number.isInteger(v) || v < 0 || v > MAX_PAD) throw new RangeError(`${name} must be 0..512`);
  return v;
}

/** The selected method, if `bits` names exactly one method that `allowed` has. */
function single(bits: number, allowed: number): CryptoMethod | undefined {
  if (bits === CRYPTO_PLAINTEXT && allowed & CRYPTO_PLAINTEXT) return CRYPTO_PLAINTEXT;
  if (bits === CRYPTO_RC4 && allowed & CRYPTO_RC4) return CRYPTO_RC4;
  return undefined;
}

abstract class Side {
  protected readonly random: (n: number) => Uint8Array;
  protected readonly privateKey: Uint8Array;
  protected readonly maxPad: number;
  protected readonly padCD: number;
  /** Raw bytes received and not yet consumed (bounded by the state being parsed + one read). */
  protected buf: Uint8Array = new Uint8Array(0);
  protected failed: MseError | undefined;
  protected finished = false;

  constructor(o: CommonOptions) {
    this.random = o.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.maxPad = checkPadOption(o.maxPad, "maxPad");
    this.padCD = checkPadOption(o.padCD ?? 0, "padCD");
    this.privateKey = this.random(PRIVATE_KEY_BYTES);
  }

  /** True once the handshake completed (further bytes belong to the payload stream). */
  get done(): boolean {
    return this.finished;
  }

  /** Feed received bytes (the chunk may be reused by the caller once this returns). */
  receive(chunk: Uint8Array): MseStep {
    if (this.failed) throw this.failed;
    if (this.finished) throw new MseError("MSE_DONE", "the handshake is already complete");
    // Copy (decryption works in place): the caller's chunk may be a transient read buffer, or a
    // Buffer, whose slice() would not copy.
    this.buf = append(this.buf, chunk);
    const out: MseStep = { send: [], done: undefined };
    try {
      this.step(out);
    } catch (e) {
      if (e instanceof MseError) this.failed = e;
      throw e;
    }
    return out;
  }

  protected abstract step(out: MseStep): void;

  protected take(n: number): Uint8Array {
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return b;
  }

  protected hello(): Uint8Array {
    const y = publicKey(this.privateKey);
    const pad = this.random(padLength(this.random, this.maxPad));
    return concat(y, pad);
  }
}

// ---- initiator -------------------------------------------------------------------------------

type InitiatorState = "yb" | "vc" | "select" | "padD";

export class MseInitiator extends Side {
  readonly #o: InitiatorOptions;
  #state: InitiatorState = "yb";
  #started = false;
  #encrypt: Rc4 | undefined;
  #decrypt: Rc4 | undefined;
  #vcEnc: Uint8Array | undefined;
  #select: CryptoMethod = CRYPTO_RC4;
  #padD = 0;

  constructor(o: InitiatorOptions) {
    super(o);
    if (o.infoHash.length !== 20) throw new RangeError("info-hash must be 20 bytes");
    if ((o.provide & (CRYPTO_PLAINTEXT | CRYPTO_RC4)) === 0 || o.provide & ~3)
      throw new RangeError("provide must be a non-empty set of plaintext and rc4");
    if ((o.initialPayload?.length ?? 0) > MAX_IA)
      throw new RangeError("initial payload over 65535 bytes");
    this.#o = o;
  }

  /** Step 1: Ya and PadA. Call once, first. */
  start(): Uint8Array {
    if (this.#started) throw new Error("start() called twice");
    this.#started = true;
    return this.hello();
  }

  protected step(out: MseStep): void {
    if (!this.#started) throw new Error("receive() before start()");
    for (;;) {
      switch (this.#state) {
        case "yb": {
          if (this.buf.length < KEY_BYTES) return;
          const s = sharedSecret(this.privateKey, this.take(KEY_BYTES));
          const skey = this.#o.infoHash;
          const { keyA, keyB } = deriveKeys(s, skey);
          this.#encrypt = new Rc4(keyA, RC4_DISCARD);
          this.#decrypt = new Rc4(keyB, RC4_DISCARD);
          this.#vcEnc = new Rc4(keyB, RC4_DISCARD).process(new Uint8Array(8));
          const ia = this.#o.initialPayload ?? new Uint8Array(0);
          const padC = this.padCD;
          const plain = new Uint8Array(8 + 4 + 2 + padC + 2 + ia.length);
          // VC is zeros; then crypto_provide, len(PadC), PadC (zeros), len(IA), IA.
          plain[11] = this.#o.provide;
          plain[12] = padC >> 8;
          plain[13] = padC & 0xff;
          const o = 14 + padC;
          plain[o] = ia.length >> 8;
          plain[o + 1] = ia.length & 0xff;
          plain.set(ia, o + 2);
          this.#encrypt.process(plain);
          const req3 = sha1("req3", s);
          const x = req2Hash(skey);
          for (let i = 0; i < 20; i++) x[i]! ^= req3[i]!;
          out.send.push(sha1("req1", s), x, plain);
          this.#state = "vc";
          break;
        }
        case "vc": {
          const at = indexOf(this.buf, this.#vcEnc!, 0, MAX_PAD + 8);
          if (at < 0) {
            if (this.buf.length >= MAX_PAD + 8)
              throw new MseError(
                "MSE_NO_VC_SYNC",
                "no verification constant within 520 bytes of Yb",
              );
            // Keep only what may still hold the start of VC.
            return;
          }
          this.take(at + 8);
          this.#decrypt!.skip(8);
          this.#state = "select";
          break;
        }
        case "select": {
          if (this.buf.length < 6) return;
          const b = this.#decrypt!.process(this.take(6), new Uint8Array(6));
          const sel = single(u32(b, 0), this.#o.provide);
          if (sel === undefined)
            throw new MseError(
              "MSE_BAD_SELECT",
              `the peer selected crypto method 0x${u32(b, 0).toString(16)}, not one we offered`,
            );
          this.#select = sel;
          this.#padD = u16(b, 4);
          if (this.#padD > MAX_PAD)
            throw new MseError("MSE_PAD_TOO_LONG", `PadD of ${this.#padD} bytes (at most 512)`);
          this.#state = "padD";
          break;
        }
        case "padD": {
          if (this.buf.length < this.#padD) return;
          this.#decrypt!.skip(this.#padD);
          this.take(this.#padD);
          const rc4 = this.#select === CRYPTO_RC4;
          const rest = this.take(this.buf.length);
          if (rc4) this.#decrypt!.process(rest);
          this.finished = true;
          out.done = {
            method: this.#select,
            encrypt: rc4 ? this.#encrypt : undefined,
            decrypt: rc4 ? this.#decrypt : undefined,
            initial: rest,
            infoHash: this.#o.infoHash,
          };
          this.buf = new Uint8Array(0);
          return;
        }
      }
    }
  }
}

// ---- responder -------------------------------------------------------------------------------

type ResponderState = "ya" | "req1" | "req2" | "vc" | "padC" | "ia";

export class MseResponder extends Side {
  readonly #o: ResponderOptions;
  #state: ResponderState = "ya";
  #s: Uint8Array | undefined;
  #req1: Uint8Array | undefined;
  #skey: Uint8Array | undefined;
  #encrypt: Rc4 | undefined;
  #decrypt: Rc4 | undefined;
  #provide = 0;
  #padC = 0;
  #ia = -1;

  constructor(o: ResponderOptions) {
    super(o);
    if ((o.allow & (CRYPTO_PLAINTEXT | CRYPTO_RC4)) === 0)
      throw new RangeError("allow must not be empty");
    this.#o = o;
  }

  protected step(out: MseStep): void {
    for (;;) {
      switch (this.#state) {
        case "ya": {
          if (this.buf.length < KEY_BYTES) return;
          this.#s = sharedSecret(this.privateKey, this.take(KEY_BYTES));
          this.#req1 = sha1("req1", this.#s);
          out.send.push(this.hello());
          this.#state = "req1";
          break;
        }
        case "req1": {
          const at = indexOf(this.buf, this.#req1!, 0, MAX_PAD + 20);
          if (at < 0) {
            if (this.buf.length >= MAX_PAD + 20)
              throw new MseError("MSE_NO_REQ1_SYNC", "no HASH('req1', S) within 532 bytes of Ya");
            return;
          }
          this.take(at + 20);
          this.#state = "req2";
          break;
        }
        case "req2": {
          if (this.buf.length < 20) return;
          const x = copy(this.take(20));
          const req3 = sha1("req3", this.#s!);
          for (let i = 0; i < 20; i++) x[i]! ^= req3[i]!;
          const skey = this.#o.lookup(x);
          if (!skey)
            throw new MseError(
              "MSE_UNKNOWN_INFOHASH",
              "the peer asked for a torrent we do not have",
            );
          this.#skey = skey;
          const { keyA, keyB } = deriveKeys(this.#s!, skey);
          this.#decrypt = new Rc4(keyA, RC4_DISCARD);
          this.#encrypt = new Rc4(keyB, RC4_DISCARD);
          this.#state = "vc";
          break;
        }
        case "vc": {
          if (this.buf.length < 14) return;
          const b = this.#decrypt!.process(this.take(14), new Uint8Array(14));
          for (let i = 0; i < 8; i++)
            if (b[i] !== 0)
              throw new MseError("MSE_BAD_VC", "the verification constant is not zero");
          this.#provide = u32(b, 8);
          this.#padC = u16(b, 12);
          if (this.#padC > MAX_PAD)
            throw new MseError("MSE_PAD_TOO_LONG", `PadC of ${this.#padC} bytes (at most 512)`);
          this.#state = "padC";
          break;
        }
        case "padC": {
          if (this.buf.length < this.#padC + 2) return;
          this.#decrypt!.skip(this.#padC);
          this.take(this.#padC);
          const b = this.#decrypt!.process(this.take(2), new Uint8Array(2));
          this.#ia = u16(b, 0);
          this.#state = "ia";
          break;
        }
        case "ia": {
          if (this.buf.length < this.#ia) return;
          const ia = this.#decrypt!.process(this.take(this.#ia), new Uint8Array(this.#ia));
          const common = this.#provide & this.#o.allow & (CRYPTO_PLAINTEXT | CRYPTO_RC4);
          if (common === 0)
            throw new MseError(
              "MSE_NO_COMMON_METHOD",
              `the peer offers crypto 0x${this.#provide.toString(16)}, we allow 0x${this.#o.allow.toString(16)}`,
            );
          const method: CryptoMethod =
            common === CRYPTO_PLAINTEXT ||
            (common === (CRYPTO_PLAINTEXT | CRYPTO_RC4) && this.#o.preferPlaintext)
              ? CRYPTO_PLAINTEXT
              : CRYPTO_RC4;
          const padD = this.padCD;
          const reply = new Uint8Array(8 + 4 + 2 + padD);
          reply[11] = method;
          reply[12] = padD >> 8;
          reply[13] = padD & 0xff;
          this.#encrypt!.process(reply);
          out.send.push(reply);
          const rc4 = method === CRYPTO_RC4;
          const rest = this.take(this.buf.length);
          const tail = rc4 ? this.#decrypt!.process(rest) : rest;
          this.finished = true;
          out.done = {
            method,
            encrypt: rc4 ? this.#encrypt : undefined,
            decrypt: rc4 ? this.#decrypt : undefined,
            initial: concat(ia, tail),
            infoHash: this.#skey!,
          };
          this.buf = new Uint8Array(0);
          return;
        }
      }
    }
  }
}
