// HTTP layer of the emulator, modelled on the server's HTTP API (grpc-gateway
// v2 ServeMux + Temporal's JSON marshalers):
//  - routes: every google.api.http binding of WorkflowService/OperatorService
//    in @temporalio/proto (implemented ones in routes-api.mjs, the rest answer
//    501), plus the emulator-only routes of routes-emulator.mjs;
//  - unknown path: 404 {"code":5,"message":"Not Found"}; known path with
//    another method: 501 {"code":12,"message":"Method Not Allowed"};
//  - the path is percent-decoded before matching (grpc-gateway's default
//    "legacy" unescaping), so an id containing %2F does not match a route;
//  - request body limit 4 MiB; body decoded against the RPC's request type;
//    path values set after the body (they win); on GET routes, query
//    parameters fill request fields and unknown ones are ignored;
//  - marshaler chosen like the server does: Content-Type
//    application/json+no-payload-shorthand reads (and by default writes) long
//    form payloads; Accept, ?noPayloadShorthand and ?pretty pick the output.
import {
  RpcError,
  Code,
  httpRules,
  decodeRequestJson,
  encodeMessage,
  applyQueryParams,
  setPathParam,
  statusJson,
  toJsonText,
  httpStatusFromCode,
} from './proto.mjs';
import { apiHandlers } from './routes-api.mjs';
import { emulatorRoutes } from './routes-emulator.mjs';

export const MAX_BODY_BYTES = 4 * 1024 * 1024; // rpc.MaxHTTPAPIRequestBytes

const MARSHALERS = {
  '*': { shorthand: true, pretty: false },
  'application/json+pretty': { shorthand: true, pretty: true },
  'application/json+pretty+no-payload-shorthand': { shorthand: false, pretty: true },
  'application/json+no-payload-shorthand': { shorthand: false, pretty: false },
};

function compilePath(path) {
  return path
    .split('/')
    .slice(1)
    .map((s) => {
      const m = /^\{([^}=]+)(?:=([^}]*))?\}$/.exec(s);
      return m ? { v: m[1] } : { lit: s };
    });
}

export function buildRoutes() {
  const routes = [];
  for (const r of httpRules()) {
    routes.push({ ...r, handler: apiHandlers[r.rpc], emulatorOnly: false, segs: compilePath(r.path) });
  }
  for (const r of emulatorRoutes) routes.push({ ...r, emulatorOnly: true, segs: compilePath(r.path) });
  return routes;
}

function matchSegs(segs, parts) {
  if (segs.length !== parts.length) return null;
  const params = {};
  let score = 0;
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k];
    if (s.lit !== undefined) {
      if (s.lit !== parts[k]) return null;
      score++;
    } else {
      params[s.v] = parts[k];
    }
  }
  return { params, score };
}

/** Best route for method+path: {route, params} | {methodNotAllowed: true} | null. */
export function findRoute(routes, method, path) {
  const parts = path.split('/').slice(1);
  let best = null;
  let otherMethod = false;
  for (const r of routes) {
    const m = matchSegs(r.segs, parts);
    if (!m) continue;
    if (r.method !== method) {
      otherMethod = true;
      continue;
    }
    if (!best || m.score > best.score) best = { route: r, params: m.params, score: m.score };
  }
  if (best) return best;
  return otherMethod ? { methodNotAllowed: true } : null;
}

/** Go's url.PathUnescape-like decoding of the request path; null if malformed. */
function decodePath(raw) {
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    // invalid UTF-8 after decoding: decode bytes leniently
    const bytes = [];
    for (let k = 0; k < raw.length; k++) {
      if (raw[k] === '%') {
        bytes.push(parseInt(raw.slice(k + 1, k + 3), 16));
        k += 2;
      } else {
        bytes.push(...Buffer.from(raw[k]));
      }
    }
    return Buffer.from(bytes).toString('utf8');
  }
}

function mediaType(value) {
  if (!value) return '';
  return value.split(';')[0].trim().toLowerCase();
}

function selectMarshalers(req, query) {
  let accept = req.headersDistinct ? req.headersDistinct.accept || [] : req.headers.accept ? [req.headers.accept] : [];
  let suffix = '';
  if (query.has('pretty')) suffix += '+pretty';
  if (query.has('noPayloadShorthand')) suffix += '+no-payload-shorthand';
  if (suffix) accept = [`application/json${suffix}`];
  const contentTypes = req.headersDistinct ? req.headersDistinct['content-type'] || [] : req.headers['content-type'] ? [req.headers['content-type']] : [];
  let inbound = null;
  for (const ct of contentTypes) {
    const mt = mediaType(ct);
    if (MARSHALERS[mt]) {
      inbound = MARSHALERS[mt];
      break;
    }
  }
  if (!inbound) inbound = MARSHALERS['*'];
  let outbound = null;
  for (const a of accept) {
    if (MARSHALERS[a]) {
      outbound = MARSHALERS[a];
      break;
    }
  }
  return { inbound, outbound: outbound || inbound };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        if (size > 16 * MAX_BODY_BYTES) req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve({ tooLarge, text: tooLarge ? '' : Buffer.concat(chunks).toString('utf8') }));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

/**
 * Create the request handler.
 * @param {object} deps {state, log(line)}
 */
export function createHandler({ state, log }) {
  const routes = buildRoutes();

  return async function handle(req, res) {
    const started = Date.now();
    const url = req.url || '/';
    const qIdx = url.indexOf('?');
    const rawPath = qIdx >= 0 ? url.slice(0, qIdx) : url;
    const query = new URLSearchParams(qIdx >= 0 ? url.slice(qIdx + 1) : '');
    let marshal = { inbound: MARSHALERS['*'], outbound: MARSHALERS['*'] };
    let logPath = rawPath;

    const send = (status, value, pretty) => {
      if (res.destroyed || res.writableEnded) return;
      const body = toJsonText(value, pretty);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    const sendError = (err) => {
      let rpcErr = err;
      if (!(err instanceof RpcError)) {
        log(`internal error on ${req.method} ${logPath}: ${err && err.stack ? err.stack : err}`);
        rpcErr = new RpcError(Code.INTERNAL, `temporal emulator internal error: ${err && err.message ? err.message : err}`);
      }
      send(httpStatusFromCode(rpcErr.code), statusJson(rpcErr, { shorthand: marshal.outbound.shorthand }), marshal.outbound.pretty);
    };

    res.on('finish', () => {
      log(`${req.method} ${logPath} ${res.statusCode} ${Date.now() - started}ms`);
    });
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        abort.abort();
        log(`${req.method} ${logPath} client closed the connection after ${Date.now() - started}ms`);
      }
    });

    try {
      const path = decodePath(rawPath);
      if (path === null || !path.startsWith('/')) {
        req.resume();
        throw new RpcError(Code.INVALID_ARGUMENT, `invalid URL escape in path ${JSON.stringify(rawPath)}`);
      }
      logPath = path;
      marshal = selectMarshalers(req, query);
      const found = findRoute(routes, req.method, path);
      if (!found) {
        req.resume();
        throw new RpcError(Code.NOT_FOUND, 'Not Found');
      }
      if (found.methodNotAllowed) {
        req.resume();
        throw new RpcError(Code.UNIMPLEMENTED, 'Method Not Allowed');
      }
      const { route, params } = found;

      // Body (read and validated even when the RPC is not implemented, like
      // the gateway does before calling the server).
      let bodyText = '';
      if (route.body) {
        const body = await readBody(req);
        if (body.tooLarge) throw new RpcError(Code.INVALID_ARGUMENT, 'http: request body too large');
        bodyText = body.text;
      } else {
        req.resume();
      }

      if (route.raw) {
        send(200, await route.handler({ state, query }), marshal.outbound.pretty);
        return;
      }

      let request;
      if (route.body === '*') {
        request = decodeRequestJson(route.requestType, bodyText, { shorthand: marshal.inbound.shorthand });
      } else if (route.body) {
        // body bound to one field of the request
        request = {};
        setBodyField(route, request, bodyText, marshal.inbound.shorthand);
      } else {
        request = {};
        applyQueryParams(route.requestType, request, query, Object.keys(params));
      }
      for (const [name, value] of Object.entries(params)) setPathParam(route.requestType, request, name, value);

      if (!route.handler) {
        throw new RpcError(Code.UNIMPLEMENTED, `${route.rpc} is not implemented by the temporal emulator`);
      }
      const isAlive = () => !res.destroyed && !res.writableEnded && !(req.socket && req.socket.destroyed);
      const response = await route.handler({ state, request, query, signal: abort.signal, isAlive });
      if (response === null || response === undefined) return; // client gone
      const encoded = encodeMessage(route.responseType, response, { shorthand: marshal.outbound.shorthand });
      send(200, encoded, marshal.outbound.pretty);
    } catch (err) {
      sendError(err);
    }
  };
}

function setBodyField(route, request, bodyText, shorthand) {
  // Not used by the routes the emulator implements (they all take body "*"),
  // kept so an annotated RPC with `body: "field"` still validates.
  const wrapperText = bodyText.trim() ? `{${JSON.stringify(route.body)}:${bodyText}}` : '{}';
  Object.assign(request, decodeRequestJson(route.requestType, wrapperText, { shorthand }));
}
