#!/usr/bin/env node
// Temporal HTTP API emulator (test infrastructure of membatch).
//
//   node tests/temporal-emulator/server.mjs [--host 127.0.0.1] [--port 0]
//        [--port-file PATH] [--poll-timeout-ms 10000] [--history-wait-ms 20000]
//        [--retry-scale 1] [--namespace NAME]... [--id-reuse-interval-ms 0]
//        [--quiet]
//
// Speaks the JSON listener of a Temporal server (1.24+) — see README.md for
// what is emulated and what is emulator-only. Also usable in-process:
//   import { createServer } from './server.mjs';
//   const emu = createServer({ retryScale: 0.01, log: () => {} });
//   const port = await emu.listen(0);  ...  await emu.close();
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EmulatorState } from './state.mjs';
import { createHandler } from './router.mjs';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * @param {object} [opts]
 * @param {number} [opts.pollTimeoutMs=10000]
 * @param {number} [opts.historyWaitMs=20000]
 * @param {number} [opts.retryScale=1]
 * @param {string[]} [opts.namespaces]
 * @param {number} [opts.idReuseIntervalMs=0]
 * @param {(line: string) => void} [opts.log] one line per request (default: stderr)
 */
export function createServer(opts = {}) {
  const log = opts.log || ((line) => process.stderr.write(`${line}\n`));
  const state = new EmulatorState({
    retryScale: opts.retryScale,
    historyWaitMs: opts.historyWaitMs,
    pollTimeoutMs: opts.pollTimeoutMs,
    namespaces: opts.namespaces,
    idReuseIntervalMs: opts.idReuseIntervalMs,
  });
  const handler = createHandler({ state, log });
  const server = http.createServer((req, res) => {
    handler(req, res);
  });
  server.keepAliveTimeout = 5000;
  let closing = null;

  return {
    server,
    state,
    /** Listen on host:port (port 0 = any free port); resolves to the port. */
    listen(port = 0, host = '127.0.0.1') {
      if (!LOOPBACK.has(host)) return Promise.reject(new Error(`refusing to bind ${host}: the emulator binds loopback only`));
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address().port);
        });
      });
    },
    /** End long polls, stop timers, close the server. */
    close() {
      if (!closing) {
        closing = new Promise((resolve) => {
          state.close();
          // Let the answers to the ended long polls be written, then close.
          setImmediate(() => {
            server.close(() => resolve());
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 200).unref();
          });
        });
      }
      return closing;
    },
  };
}

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 0, portFile: null, namespaces: [], quiet: false };
  const num = (name, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${name} needs a non-negative number`);
    return n;
  };
  for (let k = 0; k < argv.length; k++) {
    let a = argv[k];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = () => (v !== undefined ? v : argv[++k]);
    switch (a) {
      case '--host': opts.host = next(); break;
      case '--port': opts.port = num(a, next()); break;
      case '--port-file': opts.portFile = next(); break;
      case '--poll-timeout-ms': opts.pollTimeoutMs = num(a, next()); break;
      case '--history-wait-ms': opts.historyWaitMs = num(a, next()); break;
      case '--retry-scale': opts.retryScale = num(a, next()); break;
      case '--id-reuse-interval-ms': opts.idReuseIntervalMs = num(a, next()); break;
      case '--namespace': opts.namespaces.push(...String(next()).split(',').filter(Boolean)); break;
      case '--quiet': opts.quiet = true; break;
      case '-h':
      case '--help':
        opts.help = true;
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  return opts;
}

function writePortFile(file, port) {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, `${port}\n`);
  fs.renameSync(tmp, file);
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`temporal-emulator: ${e.message}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write('usage: server.mjs [--host 127.0.0.1] [--port 0] [--port-file PATH] [--poll-timeout-ms 10000] [--history-wait-ms 20000] [--retry-scale 1] [--namespace NAME]... [--id-reuse-interval-ms 0] [--quiet]\n');
    return;
  }
  const emu = createServer({
    ...opts,
    log: opts.quiet ? () => {} : undefined,
  });
  let port;
  try {
    port = await emu.listen(opts.port, opts.host);
  } catch (e) {
    process.stderr.write(`temporal-emulator: ${e.message}\n`);
    process.exit(1);
  }
  if (opts.portFile) writePortFile(opts.portFile, port);
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  process.stdout.write(`temporal-emulator listening on http://${shownHost}:${port}\n`);

  let stopping = false;
  const stop = (sig) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`temporal-emulator: ${sig}, shutting down\n`);
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    emu.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main();
}
