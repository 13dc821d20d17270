/**
 * Which extensions we speak and under which ids (BEP 10), and per connection which ids the peer
 * wants. Outgoing extension messages use the peer's id from its `m`; incoming ones arrive with
 * our id from our `m`, and {@link PeerExtensions.decode} routes and decodes them.
 */
import type { PieceIndex } from "../types.js";
import { decodeDontHave, LT_DONTHAVE } from "./donthave.js";
import { decodeExtHandshake, type ExtHandshake } from "./handshake.js";
import { decodeUploadOnly, UPLOAD_ONLY } from "./upload-only.js";
import { decodeMetadataMessage, UT_METADATA, type UtMetadataMessage } from "./ut-metadata.js";
import { UT_PEX } from "./ut-pex.js";

/** The extension messages Tessera implements. */
export type ExtName = typeof UT_METADATA | typeof UT_PEX | typeof UPLOAD_ONLY | typeof LT_DONTHAVE;

/** Every {@link ExtName}. */
export const EXT_NAMES: readonly ExtName[] = [UT_METADATA, UT_PEX, UPLOAD_ONLY, LT_DONTHAVE];

/**
 * Our ids, constants for the life of the process (BEP 10's rationale: so they can be switched
 * on). They match libtorrent's numbering where it has one, which helps when reading captures.
 */
export const DEFAULT_LOCAL_IDS: ReadonlyMap<ExtName, number> = new Map<ExtName, number>([
  [UT_PEX, 1],
  [UT_METADATA, 2],
  [UPLOAD_ONLY, 3],
  [LT_DONTHAVE, 7],
]);

/** Our side of BEP 10: the extensions enabled for a torrent and their ids. */
export class ExtensionRegistry {
  readonly #ids: Map<ExtName, number>;
  readonly #names = new Map<number, ExtName>();

  /**
   * @param enabled extensions to offer (default all; e.g. leave ut_pex out for private torrents,
   *   BEP 27).
   * @throws {RangeError} on an id outside 1..255 or two extensions sharing an id (our bug).
   */
  constructor(
    enabled: Iterable<ExtName> = EXT_NAMES,
    ids: ReadonlyMap<ExtName, number> = DEFAULT_LOCAL_IDS,
  ) {
    this.#ids = new Map();
    for (const name of enabled) {
      const id = ids.get(name);
      if (id === undefined || !Number.isInteger(id) || id < 1 || id > 255) {
        throw new RangeError(`extension ${name} has no id in 1..255`);
      }
      if (this.#names.has(id)) throw new RangeError(`extension id ${id} used twice`);
      this.#ids.set(name, id);
      this.#names.set(id, name);
    }
  }

  /** Our `m` dictionary for the extension handshake. */
  localIds(): Map<string, number> {
    return new Map(this.#ids);
  }

  /** Our id for `name`, if enabled. */
  idOf(name: ExtName): number | undefined {
    return this.#ids.get(name);
  }

  /** The extension an incoming extended id (one of ours) stands for. */
  nameOf(extId: number): ExtName | undefined {
    return this.#names.get(extId);
  }
}

/** Context the decoders need about the torrent; unknown values are `undefined` (magnet). */
export interface ExtDecodeContext {
  /** Pieces in the torrent, once the metadata is known (bounds lt_donthave). */
  pieceCount?: number;
  /** Our metadata size when we have it, else the peer's announced `metadata_size`. */
  metadataSize?: number;
}

/**
 * One incoming extended message, decoded. `ut_pex` is handed over raw so {@link PexState.receive}
 * can rate-limit before decoding.
 */
export type ExtMessage =
  /** The peer's (re-)handshake; already merged into {@link PeerExtensions}. */
  | { readonly type: "handshake"; readonly handshake: ExtHandshake }
  | { readonly type: "ut_metadata"; readonly message: UtMetadataMessage }
  | { readonly type: "ut_pex"; readonly payload: Uint8Array }
  | { readonly type: "upload_only"; readonly uploadOnly: boolean }
  | { readonly type: "lt_donthave"; readonly index: PieceIndex }
  /** An id we never assigned (or disabled): ignore it (libtorrent disconnects; we are lenient). */
  | { readonly type: "unknown"; readonly extId: number };

/** An outgoing extended message, ready for `encodeMessage`. */
export interface OutgoingExtended {
  readonly type: "extended";
  readonly extId: number;
  readonly payload: Uint8Array;
}

/**
 * BEP 10 state of one connection: the peer's id for each extension (additive across re-sent
 * handshakes; id 0 switches one off) and the handshake fields seen so far.
 */
export class PeerExtensions {
  readonly registry: ExtensionRegistry;
  readonly #remote = new Map<string, number>();
  #handshake: ExtHandshake | undefined;

  constructor(registry: ExtensionRegistry) {
    this.registry = registry;
  }

  /** The peer's latest handshake with earlier fields carried over; `undefined` before one. */
  get handshake(): ExtHandshake | undefined {
    return this.#handshake;
  }

  /**
   * Merge a decoded handshake: `m` entries update the map (0 removes), other fields replace the
   * earlier value when present. Returns the merged view.
   */
  applyHandshake(h: ExtHandshake): ExtHandshake {
    for (const [name, id] of h.m) {
      if (id === 0) this.#remote.delete(name);
      else this.#remote.set(name, id);
    }
    const merged = { ...this.#handshake, ...h, m: new Map(this.#remote) };
    this.#handshake = merged;
    return merged;
  }

  /** The id to send `name` under, or `undefined` when the peer does not support it. */
  remoteId(name: string): number | undefined {
    return this.#remote.get(name);
  }

  /** Whether the peer accepts `name` messages. */
  supports(name: string): boolean {
    return this.#remote.has(name);
  }

  /**
   * Wrap an extension payload for the wire, or `undefined` when the peer has not enabled `name`
   * (BEP 54 allows sending lt_donthave only under an id the peer gave, like any other).
   */
  outgoing(name: ExtName, payload: Uint8Array): OutgoingExtended | undefined {
    const extId = this.#remote.get(name);
    return extId === undefined ? undefined : { type: "extended", extId, payload };
  }

  /**
   * Route and decode an incoming extended message (`extId` is ours; 0 is the handshake, which is
   * merged here).
   * @throws {ExtError} when the payload is malformed; never anything else.
   */
  decode(extId: number, payload: Uint8Array, ctx: ExtDecodeContext = {}): ExtMessage {
    if (extId === 0) {
      const handshake = this.applyHandshake(decodeExtHandshake(payload));
      return { type: "handshake", handshake };
    }
    const name = this.registry.nameOf(extId);
    switch (name) {
      case UT_METADATA: {
        const metadataSize = ctx.metadataSize ?? this.#handshake?.metadataSize;
        const options = metadataSize === undefined ? {} : { metadataSize };
        return { type: "ut_metadata", message: decodeMetadataMessage(payload, options) };
      }
      case UT_PEX:
        return { type: "ut_pex", payload };
      case UPLOAD_ONLY:
        return { type: "upload_only", uploadOnly: decodeUploadOnly(payload) };
      case LT_DONTHAVE:
        return { type: "lt_donthave", index: decodeDontHave(payload, ctx.pieceCount) };
      default:
        return { type: "unknown", extId };
    }
  }
}
