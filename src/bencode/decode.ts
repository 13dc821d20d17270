import { BencodeError } from "./errors.js";
import { BDict, type BValue, keyOf, setListSpan } from "./value.js";

/** Deepest nesting of lists and dictionaries accepted (BEP 3 sets none; libtorrent uses 100). */
export const MAX_DEPTH = 100;
/** Most values (integers, strings, lists, dictionaries, keys) accepted in one input. */
export const MAX_TOKENS = 2_000_000;
/** Most digits in an integer: 2^64 has 20; anything much longer is an attack, not a number. */
export const MAX_INTEGER_DIGITS = 32;

export interface DecodeOptions {
  /** Default {@link MAX_DEPTH}. */
  maxDepth?: number;
  /** Default {@link MAX_TOKENS}. */
  maxTokens?: number;
  /**
   * Accept bytes after the first value (returned as `end` by {@link decodePrefix}). Off for
   * {@link decode}: a .torrent with trailing garbage is refused.
   */
  allowTrailing?: boolean;
}

const C_0 = 0x30;
const C_9 = 0x39;
const C_COLON = 0x3a;
const C_MINUS = 0x2d;
const C_D = 0x64;
const C_E = 0x65;
const C_I = 0x69;
const C_L = 0x6c;

/** A container being filled: the decoder keeps its own stack so depth never touches the JS stack. */
interface Frame {
  start: number;
  list: BValue[] | undefined;
  dict: BDict | undefined;
  /** Dictionary: the key waiting for its value. */
  key: string | undefined;
}

/**
 * Decode exactly one bencoded value filling all of `input`.
 * @throws {BencodeError} on any malformed input, with the byte offset.
 */
export function decode(input: Uint8Array, options: DecodeOptions = {}): BValue {
  return decodePrefix(input, { ...options, allowTrailing: options.allowTrailing ?? false }).value;
}

/**
 * Decode one bencoded value from the start of `input`; `end` is the offset just after it.
 * Trailing bytes are accepted only with `allowTrailing` (the default here), as used for
 * messages such as ut_metadata where raw data follows the dictionary.
 */
export function decodePrefix(
  input: Uint8Array,
  options: DecodeOptions = {},
): { value: BValue; end: number } {
  const maxDepth = options.maxDepth ?? MAX_DEPTH;
  const maxTokens = options.maxTokens ?? MAX_TOKENS;
  const allowTrailing = options.allowTrailing ?? true;
  const n = input.length;
  const stack: Frame[] = [];
  let pos = 0;
  let tokens = 0;
  let result: BValue | undefined;
  let done = false;

  // Place a finished value into the enclosing container, or make it the result.
  const emit = (value: BValue, at: number): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      result = value;
      done = true;
    } else if (top.list !== undefined) {
      top.list.push(value);
    } else if (top.key === undefined) {
      if (!(value instanceof Uint8Array)) {
        throw new BencodeError("BENCODE_KEY_NOT_STRING", "dictionary key is not a byte string", at);
      }
      const key = keyOf(value);
      if (top.dict!.has(key)) {
        throw new BencodeError(
          "BENCODE_DUPLICATE_KEY",
          `duplicate dictionary key ${JSON.stringify(key)}`,
          at,
        );
      }
      top.key = key;
    } else {
      top.dict!.set(top.key, value);
      top.key = undefined;
    }
  };

  while (!done) {
    if (pos >= n) {
      throw new BencodeError(
        "BENCODE_UNEXPECTED_END",
        stack.length > 0 ? "unterminated list or dictionary" : "empty input",
        pos,
      );
    }
    const c = input[pos]!;
    if (c === C_E) {
      const top = stack.pop();
      if (top === undefined) throw new BencodeError("BENCODE_INVALID_BYTE", "unexpected 'e'", pos);
      if (top.key !== undefined) {
        throw new BencodeError(
          "BENCODE_MISSING_VALUE",
          `key ${JSON.stringify(top.key)} has no value`,
          pos,
        );
      }
      pos++;
      const span = input.subarray(top.start, pos);
      if (top.dict !== undefined) {
        top.dict.raw = span;
        emit(top.dict, top.start);
      } else {
        setListSpan(top.list!, span);
        emit(top.list!, top.start);
      }
      continue;
    }
    if (++tokens > maxTokens) {
      throw new BencodeError("BENCODE_TOKEN_LIMIT", `more than ${maxTokens} values`, pos);
    }
    if (c >= C_0 && c <= C_9) {
      const start = pos;
      let len = 0;
      let digits = 0;
      while (pos < n && input[pos]! >= C_0 && input[pos]! <= C_9) {
        len = len * 10 + (input[pos]! - C_0);
        digits++;
        pos++;
        // Lengths are checked against what remains before anything is allocated.
        if (len > n)
          throw new BencodeError("BENCODE_STRING_LENGTH", "string length exceeds the input", start);
      }
      if (digits > 1 && input[start] === C_0) {
        throw new BencodeError("BENCODE_LEADING_ZERO", "string length has a leading zero", start);
      }
      if (pos >= n)
        throw new BencodeError("BENCODE_UNEXPECTED_END", "unterminated string length", pos);
      if (input[pos] !== C_COLON) {
        throw new BencodeError("BENCODE_INVALID_BYTE", "expected ':' after string length", pos);
      }
      pos++;
      if (len > n - pos) {
        throw new BencodeError(
          "BENCODE_STRING_LENGTH",
          `string of ${len} bytes exceeds the input`,
          start,
        );
      }
      const bytes = input.subarray(pos, pos + len);
      pos += len;
      emit(bytes, start);
      continue;
    }
    if (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.dict !== undefined && top.key === undefined) {
        throw new BencodeError(
          "BENCODE_KEY_NOT_STRING",
          "dictionary key is not a byte string",
          pos,
        );
      }
    }
    if (c === C_I) {
      const start = pos;
      pos++;
      const numStart = pos;
      if (pos < n && input[pos] === C_MINUS) pos++;
      const digitStart = pos;
      while (pos < n && input[pos]! >= C_0 && input[pos]! <= C_9) {
        pos++;
        if (pos - digitStart > MAX_INTEGER_DIGITS) {
          throw new BencodeError(
            "BENCODE_INTEGER_TOO_LONG",
            `integer longer than ${MAX_INTEGER_DIGITS} digits`,
            start,
          );
        }
      }
      if (pos >= n) throw new BencodeError("BENCODE_UNEXPECTED_END", "unterminated integer", pos);
      if (input[pos] !== C_E)
        throw new BencodeError("BENCODE_INVALID_BYTE", "invalid byte in integer", pos);
      const ndigits = pos - digitStart;
      if (ndigits === 0)
        throw new BencodeError("BENCODE_INVALID_INTEGER", "integer has no digits", start);
      if (input[digitStart] === C_0 && ndigits > 1) {
        throw new BencodeError("BENCODE_LEADING_ZERO", "integer has a leading zero", start);
      }
      const negative = digitStart > numStart;
      if (negative && ndigits === 1 && input[digitStart] === C_0) {
        throw new BencodeError("BENCODE_NEGATIVE_ZERO", "integer is -0", start);
      }
      let value: number | bigint;
      if (ndigits <= 15) {
        let v = 0;
        for (let i = digitStart; i < pos; i++) v = v * 10 + (input[i]! - C_0);
        value = negative ? -v : v;
      } else {
        let s = "";
        for (let i = numStart; i < pos; i++) s += String.fromCharCode(input[i]!);
        const big = BigInt(s);
        value =
          big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER)
            ? Number(big)
            : big;
      }
      pos++;
      emit(value, start);
      continue;
    }
    if (c === C_L || c === C_D) {
      if (stack.length >= maxDepth) {
        throw new BencodeError("BENCODE_DEPTH_LIMIT", `nesting deeper than ${maxDepth}`, pos);
      }
      stack.push(
        c === C_L
          ? { start: pos, list: [], dict: undefined, key: undefined }
          : { start: pos, list: undefined, dict: new BDict(), key: undefined },
      );
      pos++;
      continue;
    }
    throw new BencodeError(
      "BENCODE_INVALID_BYTE",
      `invalid byte 0x${c.toString(16).padStart(2, "0")}`,
      pos,
    );
  }
  if (!allowTrailing && pos !== n) {
    throw new BencodeError("BENCODE_TRAILING_BYTES", `${n - pos} bytes after the value`, pos);
  }
  return { value: result!, end: pos };
}
