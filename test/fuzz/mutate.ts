/**
 * Structure-aware mutators shared by the fuzz targets: byte-level mutations that know bencode's
 * shape (length prefixes, integers), value-level mutations of a decoded tree, and arbitrary
 * bencode values with the keys and numbers attackers like.
 */
import fc from "fast-check";
import { type Encodable, encode } from "../../src/bencode/index.js";

/** Largest input an amplifying mutation ("repeat") may produce: big enough for O(n²) to show. */
export const MAX_AMPLIFIED_BYTES = 1 << 20;

// ---- byte level --------------------------------------------------------------------------------

/** One edit of a byte string; positions are taken modulo the length at the time. */
export type ByteMutation =
  | { op: "flip"; at: number; x: number }
  | { op: "set"; at: number; byte: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; n: number }
  | { op: "splice"; from: number; n: number; to: number }
  | { op: "repeat"; from: number; n: number; times: number }
  | { op: "number"; nth: number; value: string };

/** Bytes that mean something in bencode, so mutations hit the parser's decisions. */
const BENCODE_BYTES = [..."ield0123456789:-"].map((c) => c.charCodeAt(0));

/** Replacement numbers for length prefixes and integers: off-by-one, huge, negative, padded. */
export const HOSTILE_NUMBERS = [
  "0",
  "1",
  "-1",
  "00",
  "01",
  "-0",
  "",
  "4294967295",
  "4294967296",
  "9007199254740991",
  "9007199254740992",
  "9007199254740993",
  "-9007199254740993",
  "18446744073709551616",
  "99999999999999999999999999999999",
  "999999999999999999999999999999999",
];

export function arbByteMutation(opts: { maxRepeat?: number } = {}): fc.Arbitrary<ByteMutation> {
  const at = fc.nat();
  return fc.oneof(
    fc.record({ op: fc.constant("flip" as const), at, x: fc.integer({ min: 1, max: 255 }) }),
    fc.record({
      op: fc.constant("set" as const),
      at,
      byte: fc.oneof(fc.constantFrom(...BENCODE_BYTES), fc.integer({ min: 0, max: 255 })),
    }),
    fc.record({ op: fc.constant("truncate" as const), at }),
    fc.record({
      op: fc.constant("insert" as const),
      at,
      bytes: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        fc
          .array(fc.constantFrom(...BENCODE_BYTES), { minLength: 1, maxLength: 8 })
          .map((a) => Uint8Array.from(a)),
      ),
    }),
    fc.record({ op: fc.constant("delete" as const), at, n: fc.integer({ min: 1, max: 16 }) }),
    fc.record({
      op: fc.constant("splice" as const),
      from: fc.nat(),
      n: fc.integer({ min: 1, max: 64 }),
      to: fc.nat(),
    }),
    fc.record({
      op: fc.constant("repeat" as const),
      from: fc.nat(),
      n: fc.integer({ min: 1, max: 32 }),
      times: fc.integer({ min: 2, max: opts.maxRepeat ?? 200 }),
    }),
    fc.record({
      op: fc.constant("number" as const),
      nth: fc.nat(),
      value: fc.oneof(fc.constantFrom(...HOSTILE_NUMBERS), fc.nat().map(String)),
    }),
  );
}

/** `bytes` with `m` applied (never in place). */
export function applyByteMutation(bytes: Uint8Array, m: ByteMutation): Uint8Array {
  const n = bytes.length;
  const cat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
  switch (m.op) {
    case "flip":
    case "set": {
      if (n === 0) return bytes;
      const out = Uint8Array.from(bytes);
      const i = m.at % n;
      out[i] = m.op === "flip" ? out[i]! ^ m.x : m.byte;
      return out;
    }
    case "truncate":
      return bytes.slice(0, n === 0 ? 0 : m.at % n);
    case "insert": {
      const i = m.at % (n + 1);
      return cat(bytes.subarray(0, i), m.bytes, bytes.subarray(i));
    }
    case "delete": {
      if (n === 0) return bytes;
      const i = m.at % n;
      return cat(bytes.subarray(0, i), bytes.subarray(i + m.n));
    }
    case "splice": {
      if (n === 0) return bytes;
      const f = m.from % n;
      const piece = bytes.subarray(f, f + m.n);
      const t = m.to % (n + 1);
      return cat(bytes.subarray(0, t), piece, bytes.subarray(t));
    }
    case "repeat": {
      if (n === 0) return bytes;
      const f = m.from % n;
      const piece = bytes.subarray(f, f + m.n);
      const times = Math.min(m.times, Math.floor(MAX_AMPLIFIED_BYTES / (n + 1)));
      const reps = Array.from({ length: Math.max(1, times) }, () => piece);
      return cat(bytes.subarray(0, f), ...reps, bytes.subarray(f + piece.length));
    }
    case "number": {
      // The nth run of digits (with its sign): a string length or an integer.
      const runs: [number, number][] = [];
      for (let i = 0; i < n; ) {
        const c = bytes[i]!;
        if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
          let j = i + 1;
          while (j < n && bytes[j]! >= 0x30 && bytes[j]! <= 0x39) j++;
          runs.push([i, j]);
          i = j;
        } else i++;
      }
      if (runs.length === 0) return bytes;
      const [s, e] = runs[m.nth % runs.length]!;
      return cat(bytes.subarray(0, s), Buffer.from(m.value, "latin1"), bytes.subarray(e));
    }
  }
}

/** `base` with 1..`max` byte mutations applied. */
export function mutatedBytes(
  base: fc.Arbitrary<Uint8Array>,
  max = 4,
  opts: { maxRepeat?: number } = {},
): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(base, fc.array(arbByteMutation(opts), { minLength: 1, maxLength: max }))
    .map(([b, ms]) => ms.reduce(applyByteMutation, b));
}

// ---- value level -------------------------------------------------------------------------------

/** Keys attackers use against parsers that decode into plain objects, plus ordinary ones. */
export const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "",
  "\u0000",
  "\u00ff",
];

/** Text from random bytes: cheaper to generate and shrink than fc.string. */
export const arbText = (maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString("utf8"));

/** Latin1 strings: a bencode key is any byte string, held as one char per byte. */
export const arbKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_KEYS),
  fc.uint8Array({ maxLength: 6 }).map((b) =>
    Buffer.from(b)
      .toString("utf8")
      .replace(/[^\u0000-\u00ff]/g, "?"),
  ),
  fc.uint8Array({ maxLength: 6 }).map((b) => String.fromCharCode(...b)),
);

export const arbInteger: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: -1000, max: 1_000_000 }),
  fc.constantFrom(
    0,
    -1,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    2n ** 53n,
    -(2n ** 53n),
    2n ** 64n,
    2n ** 100n,
  ),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
);

/** Any bencode value, dictionaries as Maps with latin1 keys (so the encoder sorts raw bytes). */
export const arbEncodable: fc.Arbitrary<Encodable> = fc.letrec<{ v: Encodable }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    arbInteger,
    fc.uint8Array({ maxLength: 24 }),
    fc.array(tie("v"), { maxLength: 5 }),
    fc
      .uniqueArray(fc.tuple(arbKey, tie("v")), { maxLength: 5, selector: ([k]) => k })
      .map((entries) => new Map(entries)),
  ),
})).v;

/** An edit of a tree of plain objects, arrays and scalars; `at` picks the node by index. */
export type TreeMutation =
  | { op: "replace"; at: number; value: Encodable }
  | { op: "delete"; at: number }
  | { op: "add"; at: number; key: string; value: Encodable }
  | { op: "repeat"; at: number; times: number }
  | { op: "wrap"; at: number; depth: number };

export function arbTreeMutation(
  hostileValues: fc.Arbitrary<Encodable>,
  opts: { maxRepeat?: number } = {},
): fc.Arbitrary<TreeMutation> {
  const value = fc.oneof(hostileValues, arbEncodable);
  const at = fc.nat();
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant("replace" as const), at, value }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), at }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("add" as const),
        at,
        key: fc.oneof(arbKey, fc.constantFrom("name.utf-8", "path.utf-8", "attr", "symlink path")),
        value,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("repeat" as const),
        at,
        times: fc.integer({ min: 2, max: opts.maxRepeat ?? 3000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("wrap" as const),
        at,
        depth: fc.integer({ min: 1, max: 120 }),
      }),
    },
  );
}

type Container = Encodable[] | Record<string, Encodable>;
interface Slot {
  parent: Container;
  key: string | number;
}

function slots(root: Encodable): Slot[] {
  const out: Slot[] = [];
  const walk = (v: Encodable) => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        out.push({ parent: v as Encodable[], key: i });
        walk(item);
      });
    } else if (isRecord(v)) {
      for (const k of Object.keys(v)) {
        out.push({ parent: v, key: k });
        walk(v[k]!);
      }
    }
  };
  walk(root);
  return out;
}

function isRecord(v: unknown): v is Record<string, Encodable> {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Map)
  );
}

/** Deep copy of a tree of plain objects and arrays (leaves shared: they are never mutated). */
export function cloneTree<T extends Encodable>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => cloneTree(x)) as unknown as T;
  if (isRecord(v)) {
    const out: Record<string, Encodable> = Object.create(null);
    for (const k of Object.keys(v)) out[k] = cloneTree(v[k]!);
    return out as T;
  }
  return v;
}

/** Apply `m` to `root` in place; `root` itself is never replaced. */
export function applyTreeMutation(root: Encodable, m: TreeMutation): void {
  const all = slots(root);
  if (all.length === 0) return;
  const { parent, key } = all[m.at % all.length]!;
  const get = () => (parent as Record<string | number, Encodable>)[key]!;
  const set = (v: Encodable) => {
    (parent as Record<string | number, Encodable>)[key] = v;
  };
  switch (m.op) {
    case "replace":
      set(m.value);
      break;
    case "delete":
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case "add": {
      const target = get();
      if (isRecord(target)) target[m.key] = m.value;
      else if (Array.isArray(target)) target.push(m.value);
      break;
    }
    case "repeat":
      if (Array.isArray(parent)) {
        const item = get();
        const times = Math.min(m.times, Math.floor(MAX_AMPLIFIED_BYTES / encode(item).length));
        // Copies, not aliases: a later edit inside one copy must not multiply through all of them.
        const copies = Array.from({ length: times - 1 }, () => cloneTree(item));
        if (times > 1) parent.splice(key as number, 0, ...copies);
      }
      break;
    case "wrap": {
      let v = get();
      for (let i = 0; i < m.depth; i++) v = [v];
      set(v);
      break;
    }
  }
}
