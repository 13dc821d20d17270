/**
 * The bencode value model.
 *
 * - integers are `number` when within ±(2^53 − 1) and `bigint` beyond, never rounded;
 * - byte strings are `Uint8Array` views into the decoded input (no copy);
 * - lists are arrays;
 * - dictionaries are {@link BDict}: a `Map` keyed by the key's bytes read as latin1 (one char per
 *   byte, so distinct byte keys stay distinct and a `__proto__` key is just a key).
 */
export type BValue = number | bigint | Uint8Array | BValue[] | BDict;

/** A decoded dictionary. `raw` is the exact span of input bytes it was decoded from. */
export class BDict extends Map<string, BValue> {
  /** Original bytes of this dictionary in the input (empty for dictionaries built in code). */
  raw: Uint8Array = EMPTY;
}

const EMPTY = new Uint8Array(0);

/**
 * Where a decoded list keeps its span: a non-enumerable symbol property, so the list still
 * compares equal to a plain array. (A WeakMap from list to span cost 5.5 s for a 2 MB input of a
 * million empty lists, and ten times that once earlier results were still alive: ephemeron
 * tables make the garbage collector superlinear.)
 */
const LIST_SPAN: unique symbol = Symbol("bencode list span");
type SpannedList = BValue[] & { [LIST_SPAN]?: Uint8Array };

/** @internal Record the input span a list was decoded from. */
export function setListSpan(list: BValue[], span: Uint8Array): void {
  Object.defineProperty(list, LIST_SPAN, { value: span });
}

/** The exact input bytes a decoded dictionary or list came from (`undefined` if built in code). */
export function rawSpan(value: BDict | BValue[]): Uint8Array | undefined {
  if (value instanceof BDict) return value.raw.length > 0 ? value.raw : undefined;
  return (value as SpannedList)[LIST_SPAN];
}

const latin1 = new TextDecoder("latin1");
/** The map key for a byte string: its bytes read as latin1. */
export function keyOf(bytes: Uint8Array): string {
  // TextDecoder("latin1") is really windows-1252 and would remap 0x80–0x9f; do it by hand for those.
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return latin1.decode(bytes);
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** The bytes of a map key (inverse of {@link keyOf}). */
export function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0xff) throw new RangeError("bencode dictionary key has a character above U+00FF");
    out[i] = c;
  }
  return out;
}
