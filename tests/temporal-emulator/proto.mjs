// Temporal's JSON ("temporalproto") encoding, checked against the REAL message
// definitions shipped in npm @temporalio/proto (protobufjs reflection).
//
// What this module reproduces (read from temporalio/api-go internal/protojson
// and common/v1/payload_json.go, and the server's HTTP API marshaler):
//  - request decoding: lowerCamel or proto (snake_case) names, unknown or
//    duplicate fields rejected with `temporalproto: (line L:C): unknown field "x"`,
//    int64 as string or number, enums by name (or number, or the old CamelCase
//    form), bytes as base64, well-known types (Timestamp, Duration, Any, Struct,
//    Value, ListValue, FieldMask, wrappers, Empty), maps, repeated fields;
//  - the payload shorthand (json/plain payloads as bare JSON values) and the
//    long form, selected by the request's Content-Type / Accept;
//  - response encoding: lowerCamel names, int64 as strings, enums by name,
//    RFC 3339 timestamps with Z, default values omitted, map keys sorted.
//
// Internal (in-memory) representation used by the rest of the emulator:
//  - a message is a plain object keyed by the lowerCamel JSON names;
//  - int32/uint32/float/double: number; int64/uint64: number (or BigInt when
//    beyond 2^53); bytes: Buffer; enum: full value name (or a number when
//    the number has no name); bool/string as is;
//  - Timestamp / Duration: {seconds, nanos} (a Date is also accepted for a
//    Timestamp when encoding); Any: {'@type': url, value: <inner message>};
//    Struct / Value / ListValue: plain JS values; FieldMask: {paths: [...]};
//    wrappers: the bare primitive; Empty: {}.
import protoRoot from '@temporalio/proto';

export const root = protoRoot;
try {
  root.resolveAll();
} catch {
  // Fields are also resolved lazily below.
}

// ---------------------------------------------------------------------------
// Errors

/** A gRPC-status style error: code + message (+ google.protobuf.Any details). */
export class RpcError extends Error {
  constructor(code, message, details = []) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

export const Code = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

// grpc-gateway v2 runtime.HTTPStatusFromCode
const HTTP_STATUS = {
  0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
  9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
};
export function httpStatusFromCode(code) {
  return HTTP_STATUS[code] ?? 500;
}

/** Error raised while decoding JSON into a message (always InvalidArgument). */
export class ProtoJsonError extends RpcError {
  constructor(message) {
    super(Code.INVALID_ARGUMENT, message);
  }
}

// ---------------------------------------------------------------------------
// Reflection helpers

const typeCache = new Map();

function stripDot(name) {
  return name.startsWith('.') ? name.slice(1) : name;
}

function toJsonName(protoName) {
  // protoc's ToJsonName: drop '_' and upper-case the next letter.
  let out = '';
  let upper = false;
  for (const ch of protoName) {
    if (ch === '_') {
      upper = true;
    } else if (upper) {
      out += ch.toUpperCase();
      upper = false;
    } else {
      out += ch;
    }
  }
  return out;
}

function camelToSnake(s) {
  return s.replace(/([A-Z])/g, (m) => `_${m.toLowerCase()}`);
}

const SCALAR_KINDS = new Set([
  'double', 'float', 'int64', 'uint64', 'int32', 'fixed64', 'fixed32', 'bool',
  'string', 'bytes', 'uint32', 'sfixed32', 'sfixed64', 'sint32', 'sint64',
]);
const INT64_KINDS = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64_KINDS = new Set(['uint64', 'fixed64']);
const INT32_KINDS = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32_KINDS = new Set(['uint32', 'fixed32']);

function resolveField(f) {
  if (!f.resolved) f.resolve();
  return f;
}

function describeValueKind(type, resolvedType) {
  if (SCALAR_KINDS.has(type)) return { kind: type };
  if (resolvedType && resolvedType.values && !resolvedType.fields) {
    return { kind: 'enum', enumType: resolvedType };
  }
  if (resolvedType && resolvedType.fields) {
    return { kind: 'message', msgType: resolvedType };
  }
  throw new Error(`cannot resolve field type ${type}`);
}

/** Cached per-type field table. */
export function typeInfo(typeOrName) {
  const type = typeof typeOrName === 'string' ? lookupType(typeOrName) : typeOrName;
  let info = typeCache.get(type);
  if (info) return info;
  const fields = [];
  const byJson = new Map();
  const byText = new Map();
  for (const f0 of type.fieldsArray) {
    const f = resolveField(f0);
    const textName = f.protoName || f.name;
    const jsonName = toJsonName(textName);
    const vk = describeValueKind(f.type, f.resolvedType);
    const fi = {
      field: f,
      id: f.id,
      textName,
      jsonName,
      isMap: !!f.map,
      isList: !!f.repeated && !f.map,
      keyKind: f.map ? f.keyType : undefined,
      ...vk,
      oneof: f.partOf && f.partOf.fieldsArray.length > 0 && !isSyntheticOneof(f) ? f.partOf : null,
    };
    fields.push(fi);
    byJson.set(jsonName, fi);
    byText.set(textName, fi);
  }
  info = { type, fullName: stripDot(type.fullName), fields, byJson, byText };
  typeCache.set(type, info);
  return info;
}

function isSyntheticOneof(f) {
  // proto3 `optional` creates a synthetic one-field oneof named `_<field>`.
  return f.partOf && f.partOf.name.startsWith('_') && f.partOf.fieldsArray.length === 1;
}

export function lookupType(name) {
  return root.lookupType(name);
}

function goOneofFullName(typeFullName, oneof) {
  return `${typeFullName}.${camelToSnake(oneof.name)}`;
}

const WKT = new Set([
  'google.protobuf.Any', 'google.protobuf.Timestamp', 'google.protobuf.Duration',
  'google.protobuf.BoolValue', 'google.protobuf.Int32Value', 'google.protobuf.Int64Value',
  'google.protobuf.UInt32Value', 'google.protobuf.UInt64Value', 'google.protobuf.FloatValue',
  'google.protobuf.DoubleValue', 'google.protobuf.StringValue', 'google.protobuf.BytesValue',
  'google.protobuf.Struct', 'google.protobuf.ListValue', 'google.protobuf.Value',
  'google.protobuf.FieldMask', 'google.protobuf.Empty',
]);
const WRAPPERS = new Set([
  'google.protobuf.BoolValue', 'google.protobuf.Int32Value', 'google.protobuf.Int64Value',
  'google.protobuf.UInt32Value', 'google.protobuf.UInt64Value', 'google.protobuf.FloatValue',
  'google.protobuf.DoubleValue', 'google.protobuf.StringValue', 'google.protobuf.BytesValue',
]);
const PAYLOAD = 'temporal.api.common.v1.Payload';
const PAYLOADS = 'temporal.api.common.v1.Payloads';

// ---------------------------------------------------------------------------
// JSON syntax (first pass, like Go's encoding/json Decoder in the server's
// marshaler): returns an AST with positions, or throws an RpcError carrying
// encoding/json's message.

function quoteChar(c) {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const cp = c.codePointAt(0);
  if (cp >= 0x20 && cp !== 0x7f) return `'${c}'`;
  const hex = cp.toString(16).padStart(2, '0');
  return `'\\x${hex}'`;
}

class SyntaxErr extends Error {}

/**
 * Parse the first JSON value of `text` (trailing data is ignored, like Go's
 * json.Decoder.Decode). Returns null when the text is empty/whitespace (EOF).
 */
export function parseJsonAst(text) {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const eof = () => {
    throw new SyntaxErr('unexpected EOF');
  };
  const bad = (ctx) => {
    throw new SyntaxErr(`invalid character ${quoteChar(String.fromCodePoint(text.codePointAt(i)))} ${ctx}`);
  };

  function parseString() {
    const start = i;
    i++; // opening quote
    let out = '';
    let segStart = i;
    for (;;) {
      if (i >= n) eof();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(segStart, i);
        i++;
        return { t: 'str', pos: start, end: i, v: out };
      }
      if (c === 0x5c) {
        out += text.slice(segStart, i);
        i++;
        if (i >= n) eof();
        const e = text[i];
        const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e in simple) {
          out += simple[e];
          i++;
        } else if (e === 'u') {
          i++;
          let code = 0;
          for (let k = 0; k < 4; k++) {
            if (i >= n) eof();
            const h = text[i];
            if (!/[0-9a-fA-F]/.test(h)) bad('in \\u hexadecimal character escape');
            code = code * 16 + parseInt(h, 16);
            i++;
          }
          out += String.fromCharCode(code);
        } else {
          bad('in string escape code');
        }
        segStart = i;
        continue;
      }
      if (c < 0x20) bad('in string literal');
      i++;
    }
  }

  function parseNumber() {
    const start = i;
    if (text[i] === '-') {
      i++;
      if (i >= n) eof();
      if (!/[0-9]/.test(text[i])) bad('in numeric literal');
    }
    if (text[i] === '0') {
      i++;
    } else {
      while (i < n && /[0-9]/.test(text[i])) i++;
    }
    if (i < n && text[i] === '.') {
      i++;
      if (i >= n) eof();
      if (!/[0-9]/.test(text[i])) bad('after decimal point in numeric literal');
      while (i < n && /[0-9]/.test(text[i])) i++;
    }
    if (i < n && (text[i] === 'e' || text[i] === 'E')) {
      i++;
      if (i < n && (text[i] === '+' || text[i] === '-')) i++;
      if (i >= n) eof();
      if (!/[0-9]/.test(text[i])) bad('in exponent of numeric literal');
      while (i < n && /[0-9]/.test(text[i])) i++;
    }
    return { t: 'num', pos: start, end: i, raw: text.slice(start, i) };
  }

  function parseLiteral(word, node) {
    const start = i;
    for (let k = 0; k < word.length; k++) {
      if (i >= n) eof();
      if (text[i] !== word[k]) bad(`in literal ${word} (expecting ${quoteChar(word[k])})`);
      i++;
    }
    return { ...node, pos: start, end: i };
  }

  function parseValue(depth) {
    if (depth > 10000) throw new SyntaxErr('exceeded max depth');
    ws();
    if (i >= n) eof();
    const c = text[i];
    if (c === '{') {
      const start = i;
      i++;
      const members = [];
      ws();
      if (i >= n) eof();
      if (text[i] === '}') {
        i++;
        return { t: 'obj', pos: start, end: i, members };
      }
      for (;;) {
        ws();
        if (i >= n) eof();
        if (text[i] !== '"') bad('looking for beginning of object key string');
        const key = parseString();
        ws();
        if (i >= n) eof();
        if (text[i] !== ':') bad('after object key');
        i++;
        const value = parseValue(depth + 1);
        members.push({ name: key.v, pos: key.pos, rawName: text.slice(key.pos, key.end), value });
        ws();
        if (i >= n) eof();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return { t: 'obj', pos: start, end: i, members };
        }
        bad('after object key:value pair');
      }
    }
    if (c === '[') {
      const start = i;
      i++;
      const items = [];
      ws();
      if (i >= n) eof();
      if (text[i] === ']') {
        i++;
        return { t: 'arr', pos: start, end: i, items };
      }
      for (;;) {
        items.push(parseValue(depth + 1));
        ws();
        if (i >= n) eof();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { t: 'arr', pos: start, end: i, items };
        }
        bad('after array element');
      }
    }
    if (c === '"') return parseString();
    if (c === '-' || (c >= '0' && c <= '9')) return parseNumber();
    if (c === 't') return parseLiteral('true', { t: 'bool', v: true });
    if (c === 'f') return parseLiteral('false', { t: 'bool', v: false });
    if (c === 'n') return parseLiteral('null', { t: 'null' });
    bad('looking for beginning of value');
    return null;
  }

  ws();
  if (i >= n) return null; // io.EOF: the gateway treats it as an empty message
  try {
    const node = parseValue(0);
    return { node, text };
  } catch (e) {
    if (e instanceof SyntaxErr) throw new RpcError(Code.INVALID_ARGUMENT, e.message);
    throw e;
  }
}

function rawOf(ctx, node) {
  return ctx.text.slice(node.pos, node.end);
}

function position(ctx, pos) {
  // Positions are relative to the start of the decoded JSON value (the server
  // hands the raw value to the unmarshaler).
  const rel = ctx.text.slice(ctx.base, pos);
  let line = 1;
  let lastNl = -1;
  for (let k = 0; k < rel.length; k++) {
    if (rel.charCodeAt(k) === 0x0a) {
      line++;
      lastNl = k;
    }
  }
  const col = Array.from(rel.slice(lastNl + 1)).length + 1;
  return `${line}:${col}`;
}

function newError(ctx, pos, msg) {
  return new ProtoJsonError(`temporalproto: (line ${position(ctx, pos)}): ${msg}`);
}

function unexpectedToken(ctx, node) {
  let raw;
  if (node.t === 'obj') raw = '{';
  else if (node.t === 'arr') raw = '[';
  else raw = rawOf(ctx, node);
  return new ProtoJsonError(`temporalproto: syntax error (line ${position(ctx, node.pos)}): unexpected token ${raw}`);
}

// ---------------------------------------------------------------------------
// Number helpers

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Go json.Token.Int/Uint: integral value of a JSON number literal, or null. */
function literalToBigInt(raw) {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(raw);
  if (!m) return null;
  const [, sign, ip, fp = '', ex = '0'] = m;
  const e = parseInt(ex, 10);
  if (!Number.isFinite(e) || Math.abs(e) > 400) return null;
  const digits = ip + fp;
  const pointPos = ip.length + e;
  let intDigits;
  let fracDigits;
  if (pointPos <= 0) {
    intDigits = '0';
    fracDigits = digits;
  } else if (pointPos >= digits.length) {
    intDigits = digits + '0'.repeat(pointPos - digits.length);
    fracDigits = '';
  } else {
    intDigits = digits.slice(0, pointPos);
    fracDigits = digits.slice(pointPos);
  }
  if (/[^0]/.test(fracDigits)) return null;
  let v = BigInt(intDigits);
  if (sign) v = -v;
  return v;
}

function bigToInternal(v) {
  if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return v;
}

const NUMBER_RE = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function intFromNode(node, kind) {
  let raw;
  if (node.t === 'num') raw = node.raw;
  else if (node.t === 'str') {
    raw = node.v;
    if (raw.trim() !== raw || !NUMBER_RE.test(raw)) return undefined;
  } else return undefined;
  const v = literalToBigInt(raw);
  if (v === null) return undefined;
  if (INT32_KINDS.has(kind) && (v < -(2n ** 31n) || v > 2n ** 31n - 1n)) return undefined;
  if (UINT32_KINDS.has(kind) && (v < 0n || v > 2n ** 32n - 1n)) return undefined;
  if (INT64_KINDS.has(kind) && (v < INT64_MIN || v > INT64_MAX)) return undefined;
  if (UINT64_KINDS.has(kind) && (v < 0n || v > UINT64_MAX)) return undefined;
  return bigToInternal(v);
}

function floatFromNode(node, kind) {
  let v;
  if (node.t === 'num') v = Number(node.raw);
  else if (node.t === 'str') {
    const s = node.v;
    if (s === 'NaN') return NaN;
    if (s === 'Infinity') return Infinity;
    if (s === '-Infinity') return -Infinity;
    if (s.trim() !== s || !NUMBER_RE.test(s)) return undefined;
    v = Number(s);
  } else return undefined;
  if (!Number.isFinite(v)) return undefined;
  if (kind === 'float' && Math.abs(v) > 3.4028234663852886e38) return undefined;
  return v;
}

// Go base64: StdEncoding, or URLEncoding when '-' or '_' appear; no padding
// when the length is not a multiple of 4. (\r and \n are ignored.)
export function decodeBase64Go(s) {
  const url = /[-_]/.test(s);
  const t = s.replace(/[\r\n]/g, '');
  const alphabet = url ? /^[A-Za-z0-9\-_]*={0,2}$/ : /^[A-Za-z0-9+/]*={0,2}$/;
  if (!alphabet.test(t)) return null;
  const noPad = t.replace(/=+$/, '');
  if (t.length % 4 === 0) {
    // padded form: padding must be consistent
    if (t.length - noPad.length !== (4 - (noPad.length % 4)) % 4) return null;
  } else if (t.length !== noPad.length) {
    return null;
  }
  if (noPad.length % 4 === 1) return null;
  return Buffer.from(noPad, url ? 'base64url' : 'base64');
}

// ---------------------------------------------------------------------------
// Decoding (JSON AST -> internal message)

function toScreamingSnake(s) {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[-\s]+/g, '_')
    .replace(/_+/g, '_')
    .toUpperCase();
}

function decodeEnum(node, enumType) {
  if (node.t === 'str') {
    const s = node.v;
    if (Object.prototype.hasOwnProperty.call(enumType.values, s)) return s;
    const alt = toScreamingSnake(`${enumType.name}_${s}`);
    if (Object.prototype.hasOwnProperty.call(enumType.values, alt)) return alt;
    return undefined;
  }
  if (node.t === 'num') {
    const v = literalToBigInt(node.raw);
    if (v === null || v < -(2n ** 31n) || v > 2n ** 31n - 1n) return undefined;
    const num = Number(v);
    return enumType.valuesById[num] ?? num;
  }
  if (node.t === 'null' && stripDot(enumType.fullName) === 'google.protobuf.NullValue') return 'NULL_VALUE';
  return undefined;
}

function decodeScalar(ctx, fi, node) {
  const kind = fi.kind;
  let v;
  switch (kind) {
    case 'bool':
      if (node.t === 'bool') v = node.v;
      break;
    case 'string':
      if (node.t === 'str') v = node.v;
      break;
    case 'bytes':
      if (node.t === 'str') {
        const b = decodeBase64Go(node.v);
        if (b) v = b;
      }
      break;
    case 'double':
    case 'float':
      v = floatFromNode(node, kind);
      break;
    case 'enum':
      v = decodeEnum(node, fi.enumType);
      break;
    default:
      v = intFromNode(node, kind);
  }
  if (v === undefined) {
    throw newError(ctx, node.pos, `invalid value for ${kind} type: ${node.t === 'obj' ? '{' : node.t === 'arr' ? '[' : rawOf(ctx, node)}`);
  }
  return v;
}

function decodeMapKey(ctx, member, keyKind) {
  const name = member.name;
  if (keyKind === 'string') return name;
  if (keyKind === 'bool') {
    if (name === 'true' || name === 'false') return name;
  } else if (/^-?\d+$/.test(name)) {
    const v = BigInt(name);
    const okRange =
      (INT32_KINDS.has(keyKind) && v >= -(2n ** 31n) && v <= 2n ** 31n - 1n) ||
      (UINT32_KINDS.has(keyKind) && v >= 0n && v <= 2n ** 32n - 1n) ||
      (INT64_KINDS.has(keyKind) && v >= INT64_MIN && v <= INT64_MAX) ||
      (UINT64_KINDS.has(keyKind) && v >= 0n && v <= UINT64_MAX);
    if (okRange) return String(v);
  }
  throw newError(ctx, member.pos, `invalid value for ${keyKind} key: ${member.rawName}`);
}

function decodeValueOfKind(ctx, fi, node) {
  if (fi.kind === 'message') return decodeMessageNode(ctx, fi.msgType, node);
  return decodeScalar(ctx, fi, node);
}

/** Decode an AST node into the internal form of message `type`. */
function decodeMessageNode(ctx, type, node) {
  const info = typeInfo(type);
  const name = info.fullName;
  if (name === PAYLOADS && ctx.shorthand && node.t === 'arr') {
    return { payloads: node.items.map((item) => payloadFromShorthand(ctx, item)) };
  }
  if (name === PAYLOAD && ctx.shorthand) {
    return payloadFromShorthand(ctx, node);
  }
  if (WKT.has(name)) return decodeWkt(ctx, info, node);

  if (node.t !== 'obj') throw unexpectedToken(ctx, node);
  const out = {};
  const seen = new Set();
  const seenOneofs = new Set();
  for (const m of node.members) {
    if (ctx.skipTypeUrl && m.name === '@type') continue;
    const fi = info.byJson.get(m.name) || info.byText.get(m.name);
    if (!fi) throw newError(ctx, m.pos, `unknown field ${m.rawName}`);
    if (seen.has(fi.id)) throw newError(ctx, m.pos, `duplicate field ${m.rawName}`);
    seen.add(fi.id);
    const v = m.value;
    const isValueType = fi.kind === 'message' && stripDot(fi.msgType.fullName) === 'google.protobuf.Value';
    const isNullValue = fi.kind === 'enum' && stripDot(fi.enumType.fullName) === 'google.protobuf.NullValue';
    if (v.t === 'null' && !isValueType && !isNullValue) continue;
    const sub = { ...ctx, skipTypeUrl: false };
    if (fi.isList) {
      if (v.t !== 'arr') throw unexpectedToken(ctx, v);
      out[fi.jsonName] = v.items.map((item) => decodeValueOfKind(sub, fi, item));
    } else if (fi.isMap) {
      if (v.t !== 'obj') throw unexpectedToken(ctx, v);
      const mapOut = {};
      for (const mm of v.members) {
        const key = decodeMapKey(ctx, mm, fi.keyKind);
        if (Object.prototype.hasOwnProperty.call(mapOut, key)) {
          throw newError(ctx, mm.pos, `duplicate map key ${mm.rawName}`);
        }
        mapOut[key] = decodeValueOfKind(sub, fi, mm.value);
      }
      out[fi.jsonName] = mapOut;
    } else {
      if (fi.oneof) {
        if (seenOneofs.has(fi.oneof)) {
          throw newError(ctx, m.pos, `error parsing ${m.rawName}, oneof ${goOneofFullName(info.fullName, fi.oneof)} is already set`);
        }
        seenOneofs.add(fi.oneof);
      }
      out[fi.jsonName] = decodeValueOfKind(sub, fi, v);
    }
  }
  return out;
}

function parseDurationString(s) {
  const m = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(s);
  if (!m) return null;
  const secs = BigInt(m[2]);
  if (secs > 315576000000n) return null;
  const nanos = m[3] ? parseInt(m[3].padEnd(9, '0'), 10) : 0;
  const sign = m[1] ? -1 : 1;
  return { seconds: bigToInternal(secs) * sign || 0, nanos: nanos * sign || 0 };
}

function parseTimestampString(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const [, Y, Mo, D, h, mi, sec, frac, tz] = m;
  const year = +Y;
  if (year < 1 || +Mo < 1 || +Mo > 12 || +D < 1 || +D > 31 || +h > 23 || +mi > 59 || +sec > 59) return null;
  const ms = Date.UTC(year, +Mo - 1, +D, +h, +mi, +sec);
  const check = new Date(ms);
  if (check.getUTCDate() !== +D) return null; // e.g. Feb 30
  let offset = 0;
  if (tz !== 'Z' && tz !== 'z') {
    const sign = tz[0] === '-' ? -1 : 1;
    offset = sign * ((+tz.slice(1, 3)) * 3600 + (+tz.slice(4, 6)) * 60);
  }
  const seconds = Math.floor(ms / 1000) - offset;
  const nanos = frac ? parseInt(frac.padEnd(9, '0'), 10) : 0;
  return { seconds, nanos };
}

function nodeToPlain(node) {
  switch (node.t) {
    case 'obj': {
      const o = {};
      for (const m of node.members) o[m.name] = nodeToPlain(m.value);
      return o;
    }
    case 'arr':
      return node.items.map(nodeToPlain);
    case 'str':
      return node.v;
    case 'num':
      return Number(node.raw);
    case 'bool':
      return node.v;
    default:
      return null;
  }
}

function decodeStructValue(ctx, node) {
  // google.protobuf.Value: any JSON value.
  if (node.t === 'num') {
    const v = Number(node.raw);
    if (!Number.isFinite(v)) throw newError(ctx, node.pos, `invalid google.protobuf.Value: ${rawOf(ctx, node)}`);
    return v;
  }
  if (node.t === 'obj') {
    const o = {};
    for (const m of node.members) {
      if (Object.prototype.hasOwnProperty.call(o, m.name)) throw newError(ctx, m.pos, `duplicate map key ${m.rawName}`);
      o[m.name] = decodeStructValue(ctx, m.value);
    }
    return o;
  }
  if (node.t === 'arr') return node.items.map((it) => decodeStructValue(ctx, it));
  return nodeToPlain(node);
}

function decodeWkt(ctx, info, node) {
  const name = info.fullName;
  switch (name) {
    case 'google.protobuf.Timestamp': {
      if (node.t !== 'str') throw unexpectedToken(ctx, node);
      const ts = parseTimestampString(node.v);
      if (!ts) throw newError(ctx, node.pos, `invalid google.protobuf.Timestamp value ${rawOf(ctx, node)}`);
      return ts;
    }
    case 'google.protobuf.Duration': {
      if (node.t !== 'str') throw unexpectedToken(ctx, node);
      const d = parseDurationString(node.v);
      if (!d) throw newError(ctx, node.pos, `invalid google.protobuf.Duration value ${rawOf(ctx, node)}`);
      return d;
    }
    case 'google.protobuf.Empty': {
      if (node.t !== 'obj') throw unexpectedToken(ctx, node);
      if (node.members.length) throw newError(ctx, node.members[0].pos, `unknown field ${node.members[0].rawName}`);
      return {};
    }
    case 'google.protobuf.FieldMask': {
      if (node.t !== 'str') throw unexpectedToken(ctx, node);
      const paths = node.v === '' ? [] : node.v.split(',').map((p) => {
        if (p.includes('_')) throw newError(ctx, node.pos, `invalid google.protobuf.FieldMask value ${rawOf(ctx, node)}`);
        return camelToSnake(p);
      });
      return { paths };
    }
    case 'google.protobuf.Struct': {
      if (node.t !== 'obj') throw unexpectedToken(ctx, node);
      return decodeStructValue(ctx, node);
    }
    case 'google.protobuf.ListValue': {
      if (node.t !== 'arr') throw unexpectedToken(ctx, node);
      return decodeStructValue(ctx, node);
    }
    case 'google.protobuf.Value':
      return decodeStructValue(ctx, node);
    case 'google.protobuf.Any':
      return decodeAny(ctx, node);
    default:
      if (WRAPPERS.has(name)) {
        const valueField = info.byJson.get('value');
        return decodeScalar(ctx, valueField, node);
      }
  }
  throw new Error(`unhandled well-known type ${name}`);
}

function decodeAny(ctx, node) {
  if (node.t !== 'obj') throw unexpectedToken(ctx, node);
  if (node.members.length === 0) return {};
  const typeMembers = node.members.filter((m) => m.name === '@type');
  if (typeMembers.length === 0) throw newError(ctx, node.pos, 'missing "@type" field');
  if (typeMembers.length > 1) throw newError(ctx, typeMembers[1].pos, 'duplicate "@type" field');
  const tv = typeMembers[0].value;
  if (tv.t !== 'str') throw newError(ctx, tv.pos, `@type field value is not a string: ${rawOf(ctx, tv)}`);
  if (tv.v === '') throw newError(ctx, tv.pos, '@type field contains empty value');
  const url = tv.v;
  const typeName = url.slice(url.lastIndexOf('/') + 1);
  let inner;
  try {
    inner = root.lookupType(typeName);
  } catch {
    throw newError(ctx, tv.pos, `unable to resolve ${rawOf(ctx, tv)}: "not found"`);
  }
  const innerName = stripDot(inner.fullName);
  if (WKT.has(innerName)) {
    let found = null;
    for (const m of node.members) {
      if (m.name === '@type') continue;
      if (m.name !== 'value') throw newError(ctx, m.pos, `unknown field ${m.rawName}`);
      if (found) throw newError(ctx, m.pos, 'duplicate "value" field');
      found = m;
    }
    if (!found) throw newError(ctx, node.end - 1, 'missing "value" field');
    return { '@type': url, value: decodeMessageNode({ ...ctx, skipTypeUrl: false }, inner, found.value) };
  }
  return { '@type': url, value: decodeMessageNode({ ...ctx, skipTypeUrl: true }, inner, node) };
}

// --- payload shorthand (api-go common/v1/payload_json.go) -----------------

const BINARY_NULL_B64 = 'YmluYXJ5L251bGw=';

function payloadFromShorthand(ctx, node) {
  if (node.t === 'null') {
    return { metadata: { encoding: Buffer.from('binary/null') } };
  }
  if (node.t === 'obj') {
    const std = tryStandardPayload(node);
    if (std) return std;
    const typeMember = node.members.find((m) => m.name === '_protoMessageType');
    if (typeMember) {
      if (typeMember.value.t !== 'str') {
        const goType = { num: 'float64', bool: 'bool', obj: 'map[string]interface {}', arr: '[]interface {}', null: '<nil>' }[typeMember.value.t];
        throw new ProtoJsonError(`temporalproto: unable to unmarshal payload: internal key "_protoMessageType" should have type string, not ${goType}`);
      }
      const rest = { ...node, members: node.members.filter((m) => m.name !== '_protoMessageType') };
      return {
        metadata: { encoding: Buffer.from('json/protobuf'), messageType: Buffer.from(typeMember.value.v) },
        data: Buffer.from(goJsonMarshalAst(rest)),
      };
    }
  }
  return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(goJsonMarshalAst(node)) };
}

function tryStandardPayload(node) {
  // Last member wins for duplicate keys (Go map semantics).
  const map = new Map();
  for (const m of node.members) map.set(m.name, m.value);
  const md = map.get('metadata');
  if (!md || md.t !== 'obj') return null;
  const mdMap = new Map();
  for (const m of md.members) mdMap.set(m.name, m.value);
  const enc = mdMap.get('encoding');
  if (!enc) return null;
  const data = map.get('data');
  if (!data && enc.t === 'str' && enc.v === BINARY_NULL_B64) {
    return { metadata: { encoding: Buffer.from('binary/null') } };
  }
  if (!(data && map.size === 2)) return null;
  if (data.t !== 'str') return null;
  const dataBytes = decodeBase64Go(data.v);
  if (!dataBytes) return null;
  const metadata = {};
  for (const [k, v] of mdMap) {
    if (v.t !== 'str') return null;
    const b = decodeBase64Go(v.v);
    if (!b) return null;
    metadata[k] = b;
  }
  return { metadata, data: dataBytes };
}

// Go's encoding/json Marshal of the interface{} value Temporal's decoder
// builds: int64 when the number is integral and fits, else float64; map keys
// sorted; strings HTML-escaped.
function goJsonString(s) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (cp < 0x20 || ch === '<' || ch === '>' || ch === '&' || cp === 0x2028 || cp === 0x2029) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return `${out}"`;
}

function goFloatString(v) {
  // Go encoding/json float64 formatting matches JS Number#toString for the
  // 'f' / 'e' switch at 1e-6 and 1e21.
  return String(v);
}

function goJsonMarshalAst(node) {
  switch (node.t) {
    case 'null':
      return 'null';
    case 'bool':
      return node.v ? 'true' : 'false';
    case 'str':
      return goJsonString(node.v);
    case 'num': {
      const big = literalToBigInt(node.raw);
      if (big !== null && big >= INT64_MIN && big <= INT64_MAX) return big.toString();
      return goFloatString(Number(node.raw));
    }
    case 'arr':
      return `[${node.items.map(goJsonMarshalAst).join(',')}]`;
    case 'obj': {
      const map = new Map();
      for (const m of node.members) map.set(m.name, m.value);
      const keys = [...map.keys()].sort(compareGoStrings);
      return `{${keys.map((k) => `${goJsonString(k)}:${goJsonMarshalAst(map.get(k))}`).join(',')}}`;
    }
    default:
      throw new Error('bad node');
  }
}

function compareGoStrings(a, b) {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return Buffer.compare(ba, bb);
}

/** Go's json.Marshal of a plain JS value (used for payload data we create). */
export function goJsonMarshal(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('json: unsupported value');
    return goFloatString(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return goJsonString(value);
  if (Array.isArray(value)) return `[${value.map(goJsonMarshal).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort(compareGoStrings);
    return `{${keys.map((k) => `${goJsonString(k)}:${goJsonMarshal(value[k])}`).join(',')}}`;
  }
  throw new Error(`json: unsupported type ${typeof value}`);
}

/**
 * Decode a request body.
 * @param {string} typeName full message name
 * @param {string} text body text
 * @param {{shorthand?: boolean}} opts
 */
export function decodeRequestJson(typeName, text, opts = {}) {
  const parsed = parseJsonAst(text);
  if (!parsed) return {};
  const ctx = { text: parsed.text, base: parsed.node.pos, shorthand: opts.shorthand !== false, skipTypeUrl: false };
  return decodeMessageNode(ctx, lookupType(typeName), parsed.node);
}

/** Decode one JSON text into a message (used by tests and helpers). */
export function decodeJson(typeName, text, opts = {}) {
  return decodeRequestJson(typeName, text, opts);
}

// ---------------------------------------------------------------------------
// Path and query parameters (grpc-gateway PopulateFieldFromPath /
// PopulateQueryParameters)

function parseParamValue(fi, value) {
  const kind = fi.kind;
  if (kind === 'message') {
    const name = stripDot(fi.msgType.fullName);
    if (name === 'google.protobuf.Timestamp') {
      const ts = parseTimestampString(value);
      if (!ts) throw new Error(`parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse`);
      return ts;
    }
    if (name === 'google.protobuf.Duration') {
      const d = parseDurationString(value);
      if (!d) throw new Error(`time: invalid duration ${JSON.stringify(value)}`);
      return d;
    }
    if (name === 'google.protobuf.FieldMask') return { paths: value.split(',').filter(Boolean) };
    if (WRAPPERS.has(name)) return parseParamValue(typeInfo(fi.msgType).byJson.get('value'), value);
    throw new Error(`unsupported message type: ${JSON.stringify(name)}`);
  }
  switch (kind) {
    case 'string':
      return value;
    case 'bool':
      if (/^(1|t|T|TRUE|true|True)$/.test(value)) return true;
      if (/^(0|f|F|FALSE|false|False)$/.test(value)) return false;
      throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
    case 'bytes': {
      const b = decodeBase64Go(value);
      if (!b) throw new Error('illegal base64 data at input byte 0');
      return b;
    }
    case 'enum': {
      const et = fi.enumType;
      if (Object.prototype.hasOwnProperty.call(et.values, value)) return value;
      if (/^-?\d+$/.test(value) && et.valuesById[Number(value)] !== undefined) return et.valuesById[Number(value)];
      throw new Error(`${JSON.stringify(value)} is not a valid value`);
    }
    case 'double':
    case 'float': {
      const v = Number(value);
      if (value.trim() === '' || Number.isNaN(v)) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(value)}: invalid syntax`);
      return v;
    }
    default: {
      if (!/^[+-]?\d+$/.test(value)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
      const v = BigInt(value);
      const fake = { t: 'num', raw: v.toString() };
      const r = intFromNode(fake, kind);
      if (r === undefined) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(value)}: value out of range`);
      return r;
    }
  }
}

/** Resolve a dotted field path (proto or JSON names). Returns [fieldInfos] or null. */
function resolveFieldPath(typeName, path) {
  let info = typeInfo(typeName);
  const out = [];
  const parts = path.split('.');
  for (let k = 0; k < parts.length; k++) {
    const fi = info.byText.get(parts[k]) || info.byJson.get(parts[k]);
    if (!fi) return null;
    out.push(fi);
    if (k < parts.length - 1) {
      if (fi.kind !== 'message' || fi.isList || fi.isMap) return null;
      info = typeInfo(fi.msgType);
    }
  }
  return out;
}

function setByFieldPath(obj, fis, value) {
  let cur = obj;
  for (let k = 0; k < fis.length - 1; k++) {
    const key = fis[k].jsonName;
    if (!cur[key] || typeof cur[key] !== 'object') cur[key] = {};
    cur = cur[key];
  }
  cur[fis[fis.length - 1].jsonName] = value;
}

/** Set a path parameter (e.g. "execution.workflow_id") on a decoded request. */
export function setPathParam(typeName, obj, path, value) {
  const fis = resolveFieldPath(typeName, path);
  if (!fis) throw new Error(`no field ${path} in ${typeName}`);
  try {
    setByFieldPath(obj, fis, parseParamValue(fis[fis.length - 1], value));
  } catch (e) {
    throw new RpcError(Code.INVALID_ARGUMENT, `type mismatch, parameter: ${path}, error: ${e.message}`);
  }
}

/**
 * Apply URL query parameters to a request message like grpc-gateway does for
 * GET routes. Unknown parameters are ignored; path-bound fields are skipped.
 */
export function applyQueryParams(typeName, obj, searchParams, skipPaths = []) {
  const grouped = new Map();
  for (const [k, v] of searchParams) {
    if (!grouped.has(k)) grouped.set(k, []);
    grouped.get(k).push(v);
  }
  const skip = new Set(skipPaths);
  for (const [key, values] of grouped) {
    const fis = resolveFieldPath(typeName, key);
    if (!fis) continue; // unknown query parameters are ignored
    const protoPath = fis.map((f) => f.textName).join('.');
    if (skip.has(protoPath)) continue;
    const leaf = fis[fis.length - 1];
    if (leaf.isMap) continue;
    try {
      if (leaf.isList) {
        setByFieldPath(obj, fis, values.map((v) => parseParamValue(leaf, v)));
      } else {
        if (values.length > 1) throw new Error(`too many values for field ${JSON.stringify(key)}: ${values.join(', ')}`);
        setByFieldPath(obj, fis, parseParamValue(leaf, values[0]));
      }
    } catch (e) {
      throw new RpcError(Code.INVALID_ARGUMENT, e.message);
    }
  }
}

// ---------------------------------------------------------------------------
// Encoding (internal message -> JSON value)

function isDefaultScalar(fi, v) {
  switch (fi.kind) {
    case 'bool':
      return v === false;
    case 'string':
      return v === '';
    case 'bytes':
      return v.length === 0;
    case 'enum':
      return v === 0 || fi.enumType.values[v] === 0;
    default:
      return v === 0 || v === 0n;
  }
}

function encodeScalar(fi, v, where) {
  switch (fi.kind) {
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`${where}: expected bool`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new Error(`${where}: expected string`);
      return v;
    case 'bytes':
      if (!Buffer.isBuffer(v) && !(v instanceof Uint8Array)) throw new Error(`${where}: expected bytes`);
      return Buffer.from(v).toString('base64');
    case 'enum': {
      if (typeof v === 'string') {
        if (!Object.prototype.hasOwnProperty.call(fi.enumType.values, v)) throw new Error(`${where}: unknown enum value ${v}`);
        return v;
      }
      if (typeof v === 'number') return fi.enumType.valuesById[v] ?? v;
      throw new Error(`${where}: expected enum`);
    }
    case 'double':
    case 'float':
      if (typeof v !== 'number') throw new Error(`${where}: expected number`);
      if (Number.isNaN(v)) return 'NaN';
      if (v === Infinity) return 'Infinity';
      if (v === -Infinity) return '-Infinity';
      return v;
    default:
      if (typeof v !== 'number' && typeof v !== 'bigint') throw new Error(`${where}: expected integer`);
      if (typeof v === 'number' && !Number.isInteger(v)) throw new Error(`${where}: expected integer`);
      if (INT64_KINDS.has(fi.kind) || UINT64_KINDS.has(fi.kind)) return String(v);
      return Number(v);
  }
}

function timestampParts(v) {
  if (v instanceof Date) {
    const ms = v.getTime();
    return { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 };
  }
  return { seconds: Number(v.seconds || 0), nanos: Number(v.nanos || 0) };
}

function fracDigits(nanos) {
  let s = String(nanos).padStart(9, '0');
  if (s.endsWith('000000')) s = s.slice(0, 3);
  else if (s.endsWith('000')) s = s.slice(0, 6);
  return s;
}

export function formatTimestamp(v) {
  const { seconds, nanos } = timestampParts(v);
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return nanos ? `${base}.${fracDigits(nanos)}Z` : `${base}Z`;
}

export function formatDuration(v) {
  const seconds = Number(v.seconds || 0);
  const nanos = Number(v.nanos || 0);
  const neg = seconds < 0 || nanos < 0;
  const s = Math.abs(seconds);
  const n = Math.abs(nanos);
  let x = `${s}.${String(n).padStart(9, '0')}`;
  if (x.endsWith('000')) x = x.slice(0, -3);
  if (x.endsWith('000')) x = x.slice(0, -3);
  if (x.endsWith('.000')) x = x.slice(0, -4);
  return `${neg ? '-' : ''}${x}s`;
}

// --- payload shorthand output ---

/** Go's decode-to-interface{} then the shorthand marshaler: sorted keys,
 * numbers as float64, and (an upstream quirk) empty arrays/objects written
 * as null. */
function goifyShorthandValue(v) {
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    return v.map(goifyShorthandValue);
  }
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort(compareGoStrings);
    if (keys.length === 0) return null;
    const o = {};
    for (const k of keys) o[k] = goifyShorthandValue(v[k]);
    return o;
  }
  return v;
}

function payloadToShorthand(p) {
  const md = p.metadata || {};
  const enc = md.encoding ? Buffer.from(md.encoding).toString() : '';
  const nKeys = Object.keys(md).length;
  if (enc === 'binary/null') {
    return { handled: true, value: { metadata: { encoding: BINARY_NULL_B64 } } };
  }
  if (enc === 'json/plain') {
    if (nKeys !== 1) return { handled: false };
    try {
      return { handled: true, value: goifyShorthandValue(JSON.parse(Buffer.from(p.data || []).toString())) };
    } catch {
      return { handled: false };
    }
  }
  if (enc === 'json/protobuf') {
    const mt = md.messageType ? Buffer.from(md.messageType).toString() : '';
    if (!mt || nKeys !== 2) return { handled: false };
    try {
      const obj = JSON.parse(Buffer.from(p.data || []).toString());
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return { handled: false };
      obj._protoMessageType = mt;
      return { handled: true, value: goifyShorthandValue(obj) };
    } catch {
      return { handled: false };
    }
  }
  return { handled: false };
}

function encodeWkt(ctx, info, v, where) {
  const name = info.fullName;
  switch (name) {
    case 'google.protobuf.Timestamp':
      return formatTimestamp(v);
    case 'google.protobuf.Duration':
      return formatDuration(v);
    case 'google.protobuf.Empty':
      return {};
    case 'google.protobuf.FieldMask':
      return (v.paths || []).map((p) => toJsonName(p)).join(',');
    case 'google.protobuf.Struct':
    case 'google.protobuf.ListValue':
    case 'google.protobuf.Value':
      return JSON.parse(JSON.stringify(v ?? null));
    case 'google.protobuf.Any': {
      if (!v['@type']) return {};
      const url = v['@type'];
      const inner = lookupType(url.slice(url.lastIndexOf('/') + 1));
      const innerInfo = typeInfo(inner);
      if (WKT.has(innerInfo.fullName)) {
        return { '@type': url, value: encodeWkt(ctx, innerInfo, v.value, where) };
      }
      return { '@type': url, ...encodeMessageValue(ctx, inner, v.value || {}, where) };
    }
    default:
      if (WRAPPERS.has(name)) return encodeScalar(info.byJson.get('value'), v, where);
  }
  throw new Error(`unhandled well-known type ${name}`);
}

function encodeMessageValue(ctx, type, obj, where) {
  const info = typeInfo(type);
  const name = info.fullName;
  if (WKT.has(name)) return encodeWkt(ctx, info, obj, where);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new Error(`${where}: expected an object for ${name}`);
  }
  if (name === PAYLOADS && ctx.shorthand) {
    const list = obj.payloads || [];
    const values = [];
    let all = true;
    for (const p of list) {
      const r = payloadToShorthand(p);
      if (!r.handled) {
        all = false;
        break;
      }
      values.push(r.value);
    }
    if (all) return values;
  }
  if (name === PAYLOAD && ctx.shorthand) {
    const r = payloadToShorthand(obj);
    if (r.handled) return r.value;
  }
  for (const k of Object.keys(obj)) {
    if (!info.byJson.has(k)) throw new Error(`${where}: ${name} has no field ${k}`);
  }
  const out = {};
  for (const fi of info.fields) {
    const v = obj[fi.jsonName];
    if (v === undefined || v === null) continue;
    const w = `${where}.${fi.jsonName}`;
    if (fi.isList) {
      if (!Array.isArray(v)) throw new Error(`${w}: expected an array`);
      if (v.length === 0) continue;
      out[fi.jsonName] = v.map((item, idx) => encodeFieldValue(ctx, fi, item, `${w}[${idx}]`));
    } else if (fi.isMap) {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      if (entries.length === 0) continue;
      entries.sort((a, b) => compareMapKeys(fi.keyKind, a[0], b[0]));
      const m = {};
      for (const [k, val] of entries) m[String(k)] = encodeFieldValue(ctx, fi, val, `${w}[${k}]`);
      out[fi.jsonName] = m;
    } else if (fi.kind === 'message') {
      out[fi.jsonName] = encodeMessageValue(ctx, fi.msgType, v, w);
    } else {
      if (!fi.oneof && isDefaultScalar(fi, v)) continue;
      out[fi.jsonName] = encodeScalar(fi, v, w);
    }
  }
  return out;
}

function compareMapKeys(kind, a, b) {
  if (kind === 'string') return compareGoStrings(String(a), String(b));
  if (kind === 'bool') return (a === 'true' || a === true ? 1 : 0) - (b === 'true' || b === true ? 1 : 0);
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function encodeFieldValue(ctx, fi, v, where) {
  if (fi.kind === 'message') return encodeMessageValue(ctx, fi.msgType, v, where);
  return encodeScalar(fi, v, where);
}

/**
 * Encode an internal message as a JSON-ready JS value. Throws on fields the
 * message type does not have (so the emulator can only answer real shapes).
 */
export function encodeMessage(typeName, obj, opts = {}) {
  const ctx = { shorthand: opts.shorthand !== false };
  return encodeMessageValue(ctx, lookupType(typeName), obj, typeName);
}

/** Serialize like Temporal's marshaler: compact, or 2-space indent for ?pretty. */
export function toJsonText(value, pretty = false) {
  return pretty ? JSON.stringify(value, null, '  ') : JSON.stringify(value);
}

// ---------------------------------------------------------------------------
// Payload helpers for the emulator's own logic

export function jsonPayload(value) {
  return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(goJsonMarshal(value)) };
}

export function jsonPayloads(...values) {
  return { payloads: values.map(jsonPayload) };
}

/** JSON value of a json/plain payload; throws if the payload is not json/plain. */
export function payloadValue(p) {
  const enc = p && p.metadata && p.metadata.encoding ? Buffer.from(p.metadata.encoding).toString() : '';
  if (enc === 'binary/null') return null;
  if (enc !== 'json/plain') throw new Error(`payload encoding is ${enc ? `"${enc}"` : 'missing'}, not json/plain`);
  return JSON.parse(Buffer.from(p.data || []).toString());
}

/** Approximate protobuf-encoded size of a Payloads message (for blob limits). */
export function payloadsSize(payloads) {
  if (!payloads || !payloads.payloads) return 0;
  let total = 0;
  for (const p of payloads.payloads) {
    let sz = 0;
    for (const [k, v] of Object.entries(p.metadata || {})) sz += Buffer.byteLength(k) + Buffer.from(v).length + 6;
    sz += (p.data ? Buffer.from(p.data).length : 0) + 5;
    total += sz + 5;
  }
  return total;
}

/** The google.rpc.Status JSON value for an RpcError (details omitted when empty). */
export function statusJson(err, opts = {}) {
  const status = { code: err.code, message: err.message };
  if (err.details && err.details.length) status.details = err.details;
  return encodeMessage('google.rpc.Status', status, opts);
}

/** An Any detail for google.rpc.Status. */
export function anyOf(typeName, value) {
  // validate eagerly so a typo fails loudly
  encodeMessage(typeName, value);
  return { '@type': `type.googleapis.com/${typeName}`, value };
}

// ---------------------------------------------------------------------------
// HTTP rules (google.api.http annotations) of the real services

function bindingsOf(method) {
  const opts = method.parsedOptions || [];
  const out = [];
  for (const o of opts) {
    const rule = o['(google.api.http)'];
    if (!rule) continue;
    const push = (r) => {
      for (const verb of ['get', 'post', 'put', 'delete', 'patch']) {
        if (r[verb]) out.push({ method: verb.toUpperCase(), path: r[verb], body: r.body || '' });
      }
    };
    push(rule);
    const add = rule.additional_bindings;
    if (Array.isArray(add)) add.forEach(push);
    else if (add) push(add);
  }
  return out;
}

/** All HTTP bindings of WorkflowService and OperatorService methods. */
export function httpRules() {
  const rules = [];
  for (const svcName of ['temporal.api.workflowservice.v1.WorkflowService', 'temporal.api.operatorservice.v1.OperatorService']) {
    const svc = root.lookupService(svcName);
    for (const m of svc.methodsArray) {
      for (const b of bindingsOf(m)) {
        rules.push({
          service: svcName,
          rpc: m.name,
          requestType: stripDot(m.resolvedRequestType ? m.resolvedRequestType.fullName : svc.lookupType(m.requestType).fullName),
          responseType: stripDot(m.resolvedResponseType ? m.resolvedResponseType.fullName : svc.lookupType(m.responseType).fullName),
          ...b,
        });
      }
    }
  }
  return rules;
}
