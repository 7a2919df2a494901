#!/usr/bin/env node
// A local sigstore stack for vouch's tests: Fulcio, Rekor v1 and a TSA built from sigstore-js's
// @sigstore/mock handlers, a Rekor v2 log (rekor_v2.js), and an OIDC issuer (oauth2-mock-server),
// each on its own free port of 127.0.0.1. See README.md in this folder.
//
//   node server.js --out DIR
//
// Writes DIR/trust-config.json (a sigstore ClientTrustConfig: trusted root + SigningConfig v0.2
// naming Rekor v1), DIR/trust-config-v2.json (the same, Rekor v2 first) and DIR/trusted-root.json
// (both logs), then prints one JSON line with the URLs and paths on stdout. Exits
// when stdin closes, or on SIGTERM / SIGINT.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { createRequire } = require('module');

// The packages live in ../js/node_modules (pinned by ../js/package-lock.json).
const jsRequire = createRequire(path.join(__dirname, '..', 'js', 'package.json'));
const mock = jsRequire('@sigstore/mock');
const { OAuth2Server } = jsRequire('oauth2-mock-server');
const jose = jsRequire('jose');
const asn1js = jsRequire('asn1js');
const { rekorV2 } = require('./rekor_v2');
const pkijs = jsRequire('pkijs');

const HOST = '127.0.0.1';
// Who signs in through the issuer's browser flow (/authorize, then /token with a code).
const BROWSER_EMAIL = 'browser-user@vouch-test.local';
const OPERATOR = 'vouch-test.local';

function parseArgs(argv) {
  const args = { out: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') args.out = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.out) throw new Error('usage: server.js --out DIR');
  return args;
}

// An HTTP server on a free port with a route table { 'METHOD /path': async (req, body) => reply }.
// A reply is { status, type, body }.
async function listen(routes, fallback) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, `http://${HOST}`);
      const route = routes[`${req.method} ${url.pathname}`];
      let reply;
      try {
        reply = route
          ? await route(req, body, url)
          : (fallback && (await fallback(req, body, url))) || {
              status: 404,
              type: 'text/plain',
              body: `no route for ${req.method} ${url.pathname}\n`,
            };
      } catch (e) {
        reply = { status: 500, type: 'text/plain', body: `${e.stack || e}\n` };
      }
      if (process.env.SIGSTORE_STACK_LOG) {
        process.stderr.write(`[stack] ${req.method} ${req.url} -> ${reply.status}\n`);
      }
      res.writeHead(reply.status, { 'Content-Type': reply.type || 'text/plain' });
      res.end(reply.body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  server.keepAliveTimeout = 1000;
  return { server, url: `http://${HOST}:${server.address().port}` };
}

// A @sigstore/mock handler result as a reply.
function fromMock({ statusCode, response, contentType }) {
  return { status: statusCode, type: contentType || 'text/plain', body: response };
}

function json(status, value) {
  return { status, type: 'application/json', body: JSON.stringify(value) };
}

function spki(keyObject) {
  return keyObject.export({ format: 'der', type: 'spki' });
}

/// Real Rekor logs a `dsse` 0.0.1 proposal (`proposedContent: {envelope, verifiers}`) as the
/// hashes of the envelope and payload with the signatures and their verifiers
/// (rekor `pkg/types/dsse/v0.0.1/entry.go`); the mock would log the proposal itself.
function dsseAsLogged(text) {
  let entry;
  try {
    entry = JSON.parse(text);
  } catch {
    return text;
  }
  const proposed = entry?.kind === 'dsse' && entry?.spec?.proposedContent;
  if (!proposed || typeof proposed.envelope !== 'string') return text;
  const env = JSON.parse(proposed.envelope);
  const verifiers = proposed.verifiers || [];
  return JSON.stringify({
    apiVersion: entry.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(Buffer.from(proposed.envelope)).toString('hex') },
      payloadHash: {
        algorithm: 'sha256',
        value: sha256(Buffer.from(env.payload, 'base64')).toString('hex'),
      },
      signatures: (env.signatures || []).map((sig, i) => ({
        signature: sig.sig,
        verifier: verifiers[i] || verifiers[0],
      })),
    },
  });
}

function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest();
}

function b64(bytes) {
  return Buffer.from(bytes).toString('base64');
}

// An unsigned JWT (alg none) carrying `claims`: @sigstore/mock's Fulcio handler only decodes the
// token (jose.decodeJwt); the signature is checked by our wrapper before.
function unsignedJwt(claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
}

// The certificate identity real Fulcio derives from a token: GitHub Actions' job workflow URL,
// else a verified email, else the subject.
function fulcioIdentity(claims) {
  if (typeof claims.job_workflow_ref === 'string') {
    return `https://github.com/${claims.job_workflow_ref}`;
  }
  if (typeof claims.email === 'string') {
    if (claims.email_verified !== true) throw new Error('email not verified');
    return claims.email;
  }
  if (typeof claims.sub === 'string' && claims.sub) return claims.sub;
  throw new Error('token has no subject');
}

// DER TimeStampReq (RFC 3161 §2.4.1) to the JSON request @sigstore/mock's TSA handler takes.
// The nonce travels as hex (see the tstInfo wrapper below): JSON numbers cannot hold 64 bits.
function timestampQueryToJson(der) {
  const asn = asn1js.fromBER(new Uint8Array(der).buffer);
  if (asn.offset === -1) throw new Error('TimeStampReq: bad DER');
  const req = new pkijs.TimeStampReq({ schema: asn.result });
  const algs = {
    '2.16.840.1.101.3.4.2.1': 'SHA256',
    '2.16.840.1.101.3.4.2.2': 'SHA384',
    '2.16.840.1.101.3.4.2.3': 'SHA512',
  };
  const hashAlgorithm = algs[req.messageImprint.hashAlgorithm.algorithmId];
  if (!hashAlgorithm) {
    throw new Error(`TimeStampReq: unsupported hash ${req.messageImprint.hashAlgorithm.algorithmId}`);
  }
  return {
    artifactHash: b64(req.messageImprint.hashedMessage.valueBlock.valueHexView),
    hashAlgorithm,
    nonce: req.nonce ? Buffer.from(req.nonce.valueBlock.valueHexView).toString('hex') : 'none',
    tsaPolicyOID: req.reqPolicy,
    certificates: req.certReq === true,
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.out, { recursive: true });
  // Trust material is valid from a little before the keys exist (certificates' notBefore is
  // their creation time, in whole seconds).
  const validFrom = new Date(Date.now() - 60_000).toISOString();

  // --- OIDC issuer ---------------------------------------------------------------------------
  const oidc = new OAuth2Server();
  await oidc.issuer.keys.generate('RS256');
  await oidc.start(0, HOST);
  // oauth2-mock-server names 127.0.0.1 "localhost"; tokens and discovery must use one name.
  oidc.issuer.url = `http://${HOST}:${oidc.address().port}`;
  const issuerUrl = oidc.issuer.url;
  const jwks = jose.createLocalJWKSet({ keys: oidc.issuer.keys.toJSON() });
  // The browser flow: tokens for an authorization code carry the signed-in user's verified email
  // (the mock's id_token already has aud = the client id and the authorization request's nonce).
  oidc.service.on('beforeTokenSigning', (token, req) => {
    if (req.body?.grant_type === 'authorization_code') {
      Object.assign(token.payload, { email: BROWSER_EMAIL, email_verified: true });
    }
  });

  // --- Fulcio (+ its CT log) -------------------------------------------------------------------
  const caKey = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctKey = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctlog = await mock.initializeCTLog(ctKey);
  const ca = await mock.initializeCA(caKey, ctlog);
  const fulcioMock = mock.fulcioHandler(ca, { strict: true });
  const fulcio = await listen({
    [`POST ${fulcioMock.path}`]: async (req, body) => {
      // Fulcio trusts our issuer only: verify the token (signature, issuer, audience, expiry),
      // then give the mock the verified claims with `sub` set to the identity real Fulcio
      // would certify.
      let request;
      let claims;
      try {
        request = JSON.parse(body.toString());
        const auth = req.headers.authorization || '';
        const token =
          request.credentials?.oidcIdentityToken || auth.replace(/^Bearer\s+/i, '');
        ({ payload: claims } = await jose.jwtVerify(token, jwks, {
          issuer: issuerUrl,
          audience: 'sigstore',
        }));
        claims = { ...claims, sub: fulcioIdentity(claims) };
      } catch (e) {
        return json(401, { code: 401, message: `invalid identity token: ${e.message}` });
      }
      request.credentials = { oidcIdentityToken: unsignedJwt(claims) };
      // Fulcio's API has the CSR as protobuf `bytes` (so base64 in JSON) holding PEM, as
      // sigstore-python and cosign send it; the mock parses the field as PEM text.
      const csr = request.certificateSigningRequest;
      if (typeof csr === 'string' && !csr.trimStart().startsWith('-----BEGIN')) {
        request.certificateSigningRequest = Buffer.from(csr, 'base64').toString('utf8');
      }
      return fromMock(await fulcioMock.fn(JSON.stringify(request)));
    },
    'GET /api/v2/trustBundle': async () =>
      json(200, {
        chains: [{ certificates: [pem(ca.rootCertificate)] }],
      }),
  });

  // --- Rekor v1 ------------------------------------------------------------------------------
  const rekorKey = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const entries = new Map();
  let lastEntry = null;
  // The log's URL must be known before the mock log is made (its checkpoints name the host).
  let rekorHandler = null;
  const rekor = await listen({
    'POST /api/v1/log/entries': async (_req, body) => {
      const reply = await rekorHandler.fn(dsseAsLogged(body.toString()));
      if (reply.statusCode === 201) {
        const obj = JSON.parse(reply.response);
        for (const [uuid, entry] of Object.entries(obj)) {
          entries.set(uuid, entry);
          lastEntry = entry;
        }
      }
      return fromMock(reply);
    },
    'GET /api/v1/log/publicKey': async () => ({
      status: 200,
      type: 'application/x-pem-file',
      body: rekorKey.publicKey.export({ format: 'pem', type: 'spki' }),
    }),
    // The mock's log is one tree of size 1 per entry (see README): report the last one.
    'GET /api/v1/log': async () => {
      const proof = lastEntry?.verification?.inclusionProof;
      return json(200, {
        rootHash: proof ? proof.rootHash : sha256(Buffer.alloc(0)).toString('hex'),
        treeSize: proof ? proof.treeSize : 0,
        signedTreeHead: proof ? proof.checkpoint : '',
        treeID: '0',
        inactiveShards: [],
      });
    },
  }, async (req, _body, url) => {
    const m = /^\/api\/v1\/log\/entries\/([0-9a-f]+)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const entry = entries.get(m[1]);
      return entry
        ? json(200, { [m[1]]: entry })
        : json(404, { code: 404, message: 'entry not found' });
    }
    return null;
  });
  const tlog = await mock.initializeTLog(rekor.url, rekorKey);
  rekorHandler = mock.rekorHandler(tlog, { strict: true });

  // --- Rekor v2 (rekor_v2.js: a double written from rekor-tiles' protos) ----------------------
  let rekor2Log = null;
  const rekor2 = await listen({}, async (req, body, url) => {
    const route = rekor2Log.routes[`${req.method} ${url.pathname}`];
    return route ? route(req, body, url) : null;
  });
  rekor2Log = rekorV2(rekor2.url, validFrom);

  // --- TSA -------------------------------------------------------------------------------------
  const tsaKey = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const tsaImpl = await mock.initializeTSA(tsaKey);
  // The mock writes `new asn1js.Integer({ value: req.nonce })` (a JS number, default 1234567890):
  // put the request's own nonce (hex from timestampQueryToJson) back, or none if it had none.
  const tstInfo = tsaImpl.tstInfo.bind(tsaImpl);
  tsaImpl.tstInfo = (req) => {
    const info = tstInfo({ ...req, nonce: 0 });
    info.nonce =
      typeof req.nonce === 'string' && req.nonce !== 'none'
        ? new asn1js.Integer({ valueHex: new Uint8Array(Buffer.from(req.nonce, 'hex')).buffer })
        : undefined;
    return info;
  };
  // genTime in whole seconds: asn1js writes a GeneralizedTime's fraction in DER's shortest form
  // (`.12Z` for 120 ms), which sigstore-js's parser (@sigstore/core: exactly three digits or
  // none) refuses as "invalid time" — one timestamp in ten would fail the sigstore-js
  // cross-checks for a reason that is the mock's and the peer's, not vouch's.
  tsaImpl.getCurrentTime = () => {
    const d = new Date();
    d.setMilliseconds(0);
    return d;
  };
  const tsaMock = mock.tsaHandler(tsaImpl, { strict: true });
  const tsa = await listen({
    [`POST ${tsaMock.path}`]: async (req, body) => {
      let query;
      if ((req.headers['content-type'] || '').startsWith('application/json')) {
        query = body.toString(); // the mock's own JSON form, as sigstore-js sends it
      } else {
        try {
          query = JSON.stringify(timestampQueryToJson(body));
        } catch (e) {
          return { status: 400, type: 'text/plain', body: `${e.message}\n` };
        }
      }
      const reply = fromMock(await tsaMock.fn(query));
      if (reply.status === 201) reply.status = 200; // as timestamp-authority answers
      return reply;
    },
    'GET /api/v1/timestamp/certchain': async () => ({
      status: 200,
      type: 'application/pem-certificate-chain',
      body: pem(tsaImpl.intCertificate) + pem(tsaImpl.rootCertificate),
    }),
  });
  const tsaUrl = `${tsa.url}${tsaMock.path}`;

  // --- control: mint ID tokens -----------------------------------------------------------------
  const control = await listen({
    // POST /token {claims..., "expiresIn": seconds} -> {"token": JWT}: an ID token from the issuer
    // with audience "sigstore"; the given claims are added (they may override the defaults).
    'POST /token': async (_req, body) => {
      const { expiresIn, ...claims } = body.length ? JSON.parse(body.toString()) : {};
      const token = await oidc.issuer.buildToken({
        expiresIn: expiresIn ?? 600,
        scopesOrTransform: (_header, payload) => {
          Object.assign(payload, { aud: 'sigstore', sub: 'vouch-test' }, claims);
        },
      });
      return json(200, { token });
    },
  });

  // --- trust material ----------------------------------------------------------------------------
  const rekorSpki = spki(rekorKey.publicKey);
  const ctSpki = Buffer.from(ctlog.publicKey);
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: rekor.url,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: b64(rekorSpki),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start: validFrom },
        },
        logId: { keyId: b64(sha256(rekorSpki)) },
      },
      rekor2Log.tlog,
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: fulcio.url,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start: validFrom },
      },
    ],
    ctlogs: [
      {
        baseUrl: fulcio.url,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: b64(ctSpki),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start: validFrom },
        },
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: tsaUrl,
        certChain: {
          certificates: [
            { rawBytes: b64(tsaImpl.intCertificate) },
            { rawBytes: b64(tsaImpl.rootCertificate) },
          ],
        },
        validFor: { start: validFrom },
      },
    ],
  };
  const service = (url, majorApiVersion = 1) => ({
    url,
    majorApiVersion,
    validFor: { start: validFrom },
    operator: OPERATOR,
  });
  const signingConfig = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [service(fulcio.url)],
    oidcUrls: [service(issuerUrl)],
    rekorTlogUrls: [service(rekor.url)],
    tsaUrls: [service(tsaUrl)],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };
  const trustConfig = {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot,
    signingConfig,
  };
  // The same with the Rekor v2 log listed first (clients pick the highest API version they
  // speak; the v1 log stays for those that speak only v1).
  const signingConfigV2 = {
    ...signingConfig,
    rekorTlogUrls: [service(rekor2.url, 2), service(rekor.url)],
  };
  const trustConfigV2 = { ...trustConfig, signingConfig: signingConfigV2 };
  const out = path.resolve(args.out);
  const files = {
    trustConfig: path.join(out, 'trust-config.json'),
    trustedRoot: path.join(out, 'trusted-root.json'),
    signingConfig: path.join(out, 'signing-config.json'),
    trustConfigV2: path.join(out, 'trust-config-v2.json'),
    signingConfigV2: path.join(out, 'signing-config-v2.json'),
  };
  fs.writeFileSync(files.trustConfig, JSON.stringify(trustConfig, null, 2) + '\n');
  fs.writeFileSync(files.trustedRoot, JSON.stringify(trustedRoot, null, 2) + '\n');
  fs.writeFileSync(files.signingConfig, JSON.stringify(signingConfig, null, 2) + '\n');
  fs.writeFileSync(files.trustConfigV2, JSON.stringify(trustConfigV2, null, 2) + '\n');
  fs.writeFileSync(files.signingConfigV2, JSON.stringify(signingConfigV2, null, 2) + '\n');

  const servers = [fulcio, rekor, rekor2, tsa, control].map((s) => s.server);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const s of servers) {
      s.closeAllConnections?.();
      s.close();
    }
    oidc.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();

  process.stdout.write(
    JSON.stringify({
      ready: true,
      fulcio: fulcio.url,
      rekor: rekor.url,
      rekorV2: rekor2.url,
      tsa: tsaUrl,
      oidcIssuer: issuerUrl,
      browserEmail: BROWSER_EMAIL,
      token: `${control.url}/token`,
      ...files,
    }) + '\n',
  );
}

function pem(der) {
  const body = b64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

main().catch((e) => {
  process.stderr.write(`sigstore-stack: ${e.stack || e}\n`);
  process.exit(1);
});
