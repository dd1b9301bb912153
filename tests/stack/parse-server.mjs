#!/usr/bin/env node
// Local Parse Server for membatch's demo and test stacks (see tests/stack/stack.sh).
//
// node tests/stack/parse-server.mjs --port P --database-uri postgres://... \
//   --app-id A --master-key M --rest-key R --data-dir DIR \
//   [--server-url http://127.0.0.1:P/parse] [--port-file FILE] \
//   [--schema resources/parse-schema.json] [--cloud resources/cloud/main.js] \
//   [--demo-user NAME --demo-password PW] \
//   [--log-level warn] [--batch-request-limit 100]
//
// Instead of --database-uri, --database-uri-file FILE waits (up to
// --wait-seconds, default 30) for FILE to appear and reads the URI from it:
// the stack starts this launcher while Postgres is still being set up, so
// loading Parse Server (about a second) overlaps with initdb.
//
// Listens on 127.0.0.1 only; `--port 0` picks a free port (the real one goes
// into --port-file and into the default server URL), unless --port-file
// already names one: a restarted launcher (the stack supervises it) comes
// back where its clients expect it. Order at start:
//   listen -> ParseServer.start() -> mount /parse -> LiveQuery -> apply the
//   schema file (idempotent) -> make sure the demo user exists -> write the
//   port file -> print "parse-server ready on URL".
// GET /parse/health answers 503 until then, so "healthy" means "ready".
// Secrets come in as arguments (or PARSE_LAUNCHER_MASTER_KEY,
// PARSE_LAUNCHER_REST_KEY, PARSE_LAUNCHER_DEMO_PASSWORD) and are never printed.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'port-file': { type: 'string' },
    'database-uri': { type: 'string' },
    'database-uri-file': { type: 'string' },
    'wait-seconds': { type: 'string', default: '30' },
    'app-id': { type: 'string' },
    'master-key': { type: 'string' },
    'rest-key': { type: 'string' },
    'data-dir': { type: 'string' },
    'server-url': { type: 'string' },
    schema: { type: 'string' },
    cloud: { type: 'string' },
    'demo-user': { type: 'string' },
    'demo-password': { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
    'batch-request-limit': { type: 'string', default: '100' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

function fail(message) {
  process.stderr.write(`parse-server: ${message}\n`);
  process.exit(1);
}

if (args.help) {
  process.stdout.write(
    'usage: parse-server.mjs --port P --database-uri URI --app-id A --master-key M ' +
      '--rest-key R --data-dir DIR [--database-uri-file FILE [--wait-seconds 30]] [--server-url URL] [--port-file FILE] [--schema FILE] [--cloud FILE] ' +
      '[--demo-user NAME --demo-password PW] [--log-level warn] [--batch-request-limit N]\n'
  );
  process.exit(0);
}
// Secrets may come from the environment instead, which keeps them out of
// `ps` (tests/stack/stack.sh does that).
for (const [name, env] of [
  ['master-key', 'PARSE_LAUNCHER_MASTER_KEY'],
  ['rest-key', 'PARSE_LAUNCHER_REST_KEY'],
  ['demo-password', 'PARSE_LAUNCHER_DEMO_PASSWORD'],
]) {
  if (!args[name] && process.env[env]) args[name] = process.env[env];
  delete process.env[env];
}
for (const name of ['app-id', 'master-key', 'rest-key', 'data-dir']) {
  if (!args[name]) fail(`--${name} is required`);
}
if (Boolean(args['database-uri']) === Boolean(args['database-uri-file'])) {
  fail('give one of --database-uri and --database-uri-file');
}
const waitSeconds = Number(args['wait-seconds']);
if (!(waitSeconds >= 0)) fail(`bad --wait-seconds ${args['wait-seconds']}`);
if (Boolean(args['demo-user']) !== Boolean(args['demo-password'])) {
  fail('--demo-user and --demo-password go together');
}
function portOfEarlierRun(file) {
  try {
    const p = Number(fs.readFileSync(path.resolve(file), 'utf8').trim());
    return Number.isInteger(p) && p > 0 && p <= 65535 ? p : 0;
  } catch {
    return 0;
  }
}
const requestedPort = Number(args.port) === 0 && args['port-file'] ? portOfEarlierRun(args['port-file']) : Number(args.port);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  fail(`bad --port ${args.port}`);
}
const batchRequestLimit = Number(args['batch-request-limit']);
if (!Number.isInteger(batchRequestLimit) || batchRequestLimit < -1 || batchRequestLimit === 0) {
  fail(`bad --batch-request-limit ${args['batch-request-limit']} (a positive integer, or -1 for none)`);
}

// Resolve every path argument before leaving the caller's directory.
const schemaPath = args.schema ? path.resolve(args.schema) : null;
const cloudPath = args.cloud ? path.resolve(args.cloud) : null; // before the chdir below
const portFile = args['port-file'] ? path.resolve(args['port-file']) : null;
const databaseUriFile = args['database-uri-file'] ? path.resolve(args['database-uri-file']) : null;
const dataDir = path.resolve(args['data-dir']);
fs.mkdirSync(dataDir, { recursive: true });
// FileSystemAdapter stores files under ./files and the logger writes ./logs.
process.chdir(dataDir);

const { ParseServer, FileSystemAdapter } = await import('parse-server');
const { default: Router } = await import('router');

const MOUNT = '/parse';
let phase = 'starting'; // starting -> migrating -> ready
let parseApp = null;
let parseServer = null;
let liveQueryServer = null;

// Plain node:http + `router` (the router Express 5 itself uses, pinned in
// tests/package.json) sets req.originalUrl/req.url for the mount exactly
// like Express does, which Parse Server relies on (batch paths, allow list).
const router = Router();
router.use(MOUNT, (req, res, next) => {
  if (phase !== 'ready' && req.method === 'GET' && (req.url === '/health' || req.url.startsWith('/health?'))) {
    res.statusCode = 503;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ status: phase }));
    return;
  }
  if (!parseApp) {
    res.statusCode = 503;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ code: 1, error: 'server is starting' }));
    return;
  }
  parseApp(req, res, next);
});

const httpServer = http.createServer((req, res) => {
  router(req, res, (err) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.statusCode = err ? 500 : 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(err ? 'Internal Server Error\n' : 'Not Found\n');
  });
});

await new Promise((resolve, reject) => {
  httpServer.once('error', reject);
  httpServer.listen(requestedPort, '127.0.0.1', () => {
    httpServer.off('error', reject);
    resolve();
  });
}).catch((e) => fail(`cannot listen on 127.0.0.1:${requestedPort}: ${e.message}`));

const port = httpServer.address().port;
const serverURL = args['server-url'] || `http://127.0.0.1:${port}${MOUNT}`;

async function waitForDatabaseUri(file) {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      const uri = fs.readFileSync(file, 'utf8').trim();
      if (uri) return uri;
    } catch (e) {
      if (e.code !== 'ENOENT') fail(`cannot read ${file}: ${e.message}`);
    }
    if (Date.now() >= deadline) fail(`no database URI in ${file} after ${waitSeconds}s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let shuttingDown = false;
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  // Never hang on the way out.
  setTimeout(() => process.exit(code), 3000).unref();
  try {
    if (liveQueryServer) await liveQueryServer.shutdown();
  } catch {
    /* ignore */
  }
  await new Promise((resolve) => {
    httpServer.close(() => resolve());
    httpServer.closeAllConnections?.();
  });
  try {
    if (parseServer) await parseServer.handleShutdown();
  } catch {
    /* ignore */
  }
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

const databaseURI = databaseUriFile ? await waitForDatabaseUri(databaseUriFile) : args['database-uri'];

const loopback = ['127.0.0.1', '::1'];
const parseOptions = {
  appId: args['app-id'],
  masterKey: args['master-key'],
  restAPIKey: args['rest-key'],
  // The same key for the Parse JS SDK (bench/peers/parse_sdk_submit.mjs),
  // which sends it as its JavaScript key.
  javascriptKey: args['rest-key'],
  databaseURI,
  serverURL,
  logLevel: args['log-level'],
  logsFolder: path.join(dataDir, 'logs'),
  // The default files adapter is GridFS, which fails every upload on Postgres.
  filesAdapter: new FileSystemAdapter(),
  maxUploadSize: '20mb',
  allowCustomObjectId: true,
  ...(cloudPath ? { cloud: cloudPath } : {}),
  masterKeyIps: loopback,
  readOnlyMasterKeyIps: loopback,
  liveQuery: { classNames: ['BatchMemoryRequest'] },
  fileUpload: {
    enableForPublic: false,
    enableForAnonymousUser: false,
    enableForAuthenticatedUser: true,
    allowedFileUrlDomains: ['127.0.0.1'],
  },
  // The remaining options take the announced future defaults now, which also
  // silences Parse Server's deprecation warnings.
  requestComplexity: {
    batchRequestLimit,
    includeDepth: 10,
    includeCount: 100,
    subqueryDepth: 10,
    queryDepth: 10,
    graphQLDepth: 20,
    graphQLFields: 200,
  },
  pages: { encodePageParamHeaders: true },
  // Triggers log the objects they see, whole: a request's webhookSecret
  // among them. Their lines say nothing a refusal's answer does not.
  logLevels: { triggerBeforeSuccess: 'silent', triggerBeforeError: 'silent', triggerAfter: 'silent' },
  protectedFieldsOwnerExempt: false,
  protectedFieldsTriggerExempt: true,
  protectedFieldsSaveResponseExempt: false,
  installation: { duplicateDeviceTokenActionEnforceAuth: true },
  allowAggregationForReadOnlyMasterKey: false,
  enableProductPurchaseLegacyApi: false,
  allowExpiredAuthDataToken: false,
};
parseServer = new ParseServer(parseOptions);

try {
  await parseServer.start();
} catch (e) {
  process.stderr.write(`parse-server: start failed: ${e?.message || e}\n`);
  await shutdown(1);
}
parseApp = parseServer.app;
liveQueryServer = await ParseServer.createLiveQueryServer(httpServer, { logLevel: args['log-level'] }, parseOptions);
phase = 'migrating';

// ---- REST helpers (through our own port, so exactly what clients see) ----
const base = `http://127.0.0.1:${port}${MOUNT}`;

async function rest(method, route, { body, master = false, session } = {}) {
  const headers = { 'X-Parse-Application-Id': args['app-id'] };
  if (master) headers['X-Parse-Master-Key'] = args['master-key'];
  else headers['X-Parse-REST-API-Key'] = args['rest-key'];
  if (session) headers['X-Parse-Session-Token'] = session;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + route, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

function describe(r) {
  if (r.json && (r.json.error || r.json.message)) {
    return `HTTP ${r.status} code ${r.json.code ?? '-'}: ${r.json.error || r.json.message}`;
  }
  return `HTTP ${r.status}: ${r.text.slice(0, 200)}`;
}

function stable(v) {
  if (Array.isArray(v)) return v.map(stable);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, stable(v[k])]));
  }
  return v;
}
const same = (a, b) => JSON.stringify(stable(a)) === JSON.stringify(stable(b));

class SchemaError extends Error {}

// Creates missing classes, adds missing fields and indexes, sets the CLPs.
// Never changes or drops anything that exists: a field whose type differs, or
// an index of the same name over other keys, is an error for a person to fix,
// found before anything is changed. (Parse Server itself answers 255 to a
// type change and 102 to an index that exists.) Index keys are compared
// without their order: Postgres keeps the schema in jsonb, which reorders
// them; the real index keeps the order it was created with.
async function applySchema(file) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SchemaError(`cannot read schema file ${file}: ${e.message}`);
  }
  const classes = Array.isArray(doc) ? doc : doc.classes;
  if (!Array.isArray(classes)) throw new SchemaError(`${file}: expected {"classes": [...]}`);
  // One listing instead of a GET per class: Parse Server logs the GET of a
  // missing class as an error.
  const list = await rest('GET', '/schemas', { master: true });
  if (list.status !== 200 || !Array.isArray(list.json?.results)) throw new SchemaError(`GET schemas: ${describe(list)}`);
  const existing = new Map(list.json.results.map((c) => [c.className, c]));

  const steps = []; // [method, className, body, what]
  const problems = [];
  const fmt = (s) => s.type + (s.targetClass ? `<${s.targetClass}>` : '');
  for (const want of classes) {
    const name = want.className;
    if (!name) throw new SchemaError(`${file}: a class without className`);
    const wantFields = want.fields || {};
    const wantIndexes = want.indexes || {};
    const have = existing.get(name);
    if (!have) {
      const body = { className: name, fields: wantFields };
      if (Object.keys(wantIndexes).length) body.indexes = wantIndexes;
      if (want.classLevelPermissions) body.classLevelPermissions = want.classLevelPermissions;
      steps.push(['POST', name, body, 'create class']);
      continue;
    }
    const haveFields = have.fields || {};
    const haveIndexes = have.indexes || {};
    const addFields = {};
    for (const [field, spec] of Object.entries(wantFields)) {
      const cur = haveFields[field];
      if (!cur) addFields[field] = spec;
      else if (cur.type !== spec.type || (spec.targetClass && cur.targetClass !== spec.targetClass)) {
        problems.push(`${name}.${field} is ${fmt(cur)} in the database but ${fmt(spec)} in ${path.basename(file)}`);
      }
    }
    const addIndexes = {};
    for (const [index, keys] of Object.entries(wantIndexes)) {
      if (!(index in haveIndexes)) addIndexes[index] = keys;
      else if (!same(haveIndexes[index], keys)) {
        problems.push(
          `${name} index ${index} is ${JSON.stringify(haveIndexes[index])} in the database but ` +
            `${JSON.stringify(keys)} in ${path.basename(file)}`
        );
      }
    }
    const update = {};
    if (Object.keys(addFields).length) update.fields = addFields;
    if (want.classLevelPermissions && !same(have.classLevelPermissions || {}, want.classLevelPermissions)) {
      update.classLevelPermissions = want.classLevelPermissions;
    }
    if (Object.keys(update).length) steps.push(['PUT', name, { className: name, ...update }, 'update class']);
    // Indexes after the fields they may cover.
    if (Object.keys(addIndexes).length) {
      steps.push(['PUT', name, { className: name, indexes: addIndexes }, 'add indexes to']);
    }
  }
  if (problems.length) {
    throw new SchemaError(
      `the database does not match ${file}; nothing was changed:\n  ` + problems.join('\n  ')
    );
  }
  for (const [method, name, body, what] of steps) {
    const r = await rest(method, `/schemas/${encodeURIComponent(name)}`, { master: true, body });
    if (r.status !== 200 && r.status !== 201) throw new SchemaError(`${what} ${name}: ${describe(r)}`);
  }
}

// Logs the demo user in; signs it up when it does not exist; resets its
// password (master key) when it exists with another one.
async function ensureUser(username, password) {
  const where = encodeURIComponent(JSON.stringify({ username }));
  const found = await rest('GET', `/users?where=${where}&limit=1`, { master: true });
  if (found.status !== 200 || !Array.isArray(found.json?.results)) throw new Error(`demo user lookup: ${describe(found)}`);
  const user = found.json.results[0];
  if (!user) {
    const signup = await rest('POST', '/users', { body: { username, password } });
    if (signup.status !== 201) throw new Error(`sign up of the demo user: ${describe(signup)}`);
    return logout(signup);
  }
  const login = await rest('POST', '/login', { body: { username, password } });
  if (login.status === 200) return logout(login);
  const reset = await rest('PUT', `/users/${user.objectId}`, { master: true, body: { password } });
  if (reset.status !== 200) throw new Error(`demo user password reset: ${describe(reset)}`);
  const again = await rest('POST', '/login', { body: { username, password } });
  if (again.status !== 200) throw new Error(`demo user login: ${describe(again)}`);
  return logout(again);
}

// Drops the session that a check made, so restarts do not pile them up.
async function logout(r) {
  if (r.json?.sessionToken) await rest('POST', '/logout', { session: r.json.sessionToken });
}

try {
  if (schemaPath) await applySchema(schemaPath);
  if (args['demo-user']) await ensureUser(args['demo-user'], args['demo-password']);
} catch (e) {
  process.stderr.write(`parse-server: ${e.message}\n`);
  await shutdown(e instanceof SchemaError ? 3 : 1);
}

if (portFile) {
  const tmp = `${portFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${port}\n`);
  fs.renameSync(tmp, portFile);
}
phase = 'ready';
process.stdout.write(`parse-server ready on ${serverURL}\n`);
