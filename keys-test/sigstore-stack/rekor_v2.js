// A Rekor v2 double for the local sigstore stack, written from rekor-tiles' protos and server
// (github.com/sigstore/rekor-tiles: api/proto/rekor/v2/*.proto, internal/server/service.go,
// pkg/types/hashedrekord/hashedrekord.go, pkg/note/note.go, internal/tessera/tessera.go), not from
// @sigstore/mock (whose "v2" output is not the real format).
//
//   POST /api/v2/log/entries   CreateEntryRequest JSON → TransparencyLogEntry JSON (201)
//   GET  /api/v2/checkpoint    the latest signed checkpoint
//
// What it does as rekor-tiles does:
// - only `hashedRekordRequestV002` (the deprecated `dsseRequestV002` is refused: DSSE envelopes
//   are logged as a hashedrekord of the PAE's digest, CLIENTS.md "DSSE / signed attestations");
//   unknown fields are refused (the server's strict unmarshaler);
// - the digest's length must match the hash of `keyDetails`, the key must be of that kind, and the
//   signature must verify over the digest with the certificate's or public key's key;
// - the logged body is JCS(protojson(Entry{kind: "hashedrekord", apiVersion: "0.0.2",
//   spec.hashedRekordV002{data{algorithm, digest}, signature}})), with no zero-valued fields;
// - an RFC 6962 Merkle tree over SHA-256(0x00 ‖ body) leaves; the answer's inclusion proof is to
//   the checkpoint published with the entry, a C2SP signed note `origin\nsize\nbase64(root)\n`
//   signed with the log's Ed25519 key, origin = the log's scheme-less URL, key hint
//   SHA-256(origin ‖ "\n" ‖ 0x01 ‖ key)[:4]; the log ID is that whole hash (note.KeyHash);
// - the answer is emitted as grpc-gateway does (EmitUnpopulated): integratedTime "0",
//   inclusionPromise null, int64s as strings, bytes as base64;
// - an entry already logged is refused (409, ALREADY_EXISTS), as tessera's antispam does.
'use strict';

const crypto = require('crypto');
const path = require('path');
const { createRequire } = require('module');

const jsRequire = createRequire(path.join(__dirname, '..', 'js', 'package.json'));
const EC = jsRequire('elliptic').ec;

// RFC 8785 (JCS) for what the entry holds (objects and strings): keys sorted by UTF-16 code
// units, strings as ECMAScript's JSON.stringify writes them, no whitespace.
function canonicalize(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(v[k])}`).join(',')}}`;
  }
  throw new Error(`canonicalize: unexpected ${typeof v}`);
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest();
const b64 = (b) => Buffer.from(b).toString('base64');

// PublicKeyDetails rekor-tiles' default algorithm registry accepts for hashedrekord (ECDSA; RSA
// and Ed25519ph are left out of the double), with their curve and digest.
const DETAILS = {
  PKIX_ECDSA_P256_SHA_256: { curve: 'p256', nodeCurve: 'prime256v1', hash: 'SHA2_256', size: 32 },
  PKIX_ECDSA_P384_SHA_384: { curve: 'p384', nodeCurve: 'secp384r1', hash: 'SHA2_384', size: 48 },
  PKIX_ECDSA_P521_SHA_512: { curve: 'p521', nodeCurve: 'secp521r1', hash: 'SHA2_512', size: 64 },
};

// RFC 6962 §2.1 over leaf hashes.
const nodeHash = (l, r) => sha256(Buffer.concat([Buffer.from([1]), l, r]));
function largestPow2Below(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function mth(leaves) {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  if (leaves.length === 1) return leaves[0];
  const k = largestPow2Below(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function auditPath(m, leaves) {
  if (leaves.length <= 1) return [];
  const k = largestPow2Below(leaves.length);
  return m < k
    ? [...auditPath(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...auditPath(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
const invalid = (m) => new HttpError(400, 3, m);

function bytesField(v, what) {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) throw invalid(`${what}: not base64`);
  return Buffer.from(v, 'base64');
}

function onlyFields(obj, allowed, what) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw invalid(`${what}: not an object`);
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw invalid(`${what}: unknown field "${k}"`);
  }
}

// The verifying key (a KeyObject) of a Verifier message, and the message as protojson writes it.
function verifierKey(v) {
  onlyFields(v, ['publicKey', 'x509Certificate', 'keyDetails'], 'verifier');
  const details = DETAILS[v.keyDetails];
  if (!details) throw invalid(`unsupported keyDetails ${v.keyDetails}`);
  let key;
  let out;
  if (v.publicKey && !v.x509Certificate) {
    onlyFields(v.publicKey, ['rawBytes'], 'publicKey');
    const der = bytesField(v.publicKey.rawBytes, 'publicKey.rawBytes');
    key = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
    out = { publicKey: { rawBytes: b64(der) }, keyDetails: v.keyDetails };
  } else if (v.x509Certificate && !v.publicKey) {
    onlyFields(v.x509Certificate, ['rawBytes'], 'x509Certificate');
    const der = bytesField(v.x509Certificate.rawBytes, 'x509Certificate.rawBytes');
    key = new crypto.X509Certificate(der).publicKey;
    out = { x509Certificate: { rawBytes: b64(der) }, keyDetails: v.keyDetails };
  } else {
    throw invalid('must contain either a public key or X.509 certificate');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails.namedCurve !== details.nodeCurve) {
    throw invalid(`the key does not match keyDetails ${v.keyDetails}`);
  }
  return { key, details, out };
}

// ECDSA over a prehashed digest (node's crypto.verify always hashes).
function verifyPrehashed(key, details, digest, signature) {
  const jwk = key.export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y, 'base64url'),
  ]);
  try {
    return new EC(details.curve).keyFromPublic(point).verify(digest, signature);
  } catch {
    return false;
  }
}

// Builds the logged Entry from a CreateEntryRequest (rekor-tiles hashedrekord.ToLogEntry).
function toLogEntry(request) {
  onlyFields(request, ['hashedRekordRequestV002', 'dsseRequestV002'], 'CreateEntryRequest');
  const hr = request.hashedRekordRequestV002;
  if (!hr) throw invalid('invalid type, must be hashedrekord');
  onlyFields(hr, ['digest', 'signature'], 'hashedRekordRequestV002');
  const sig = hr.signature;
  if (!sig || !sig.content) throw invalid('missing signature');
  onlyFields(sig, ['content', 'verifier'], 'signature');
  if (!sig.verifier) throw invalid('missing verifier');
  const digest = bytesField(hr.digest ?? '', 'digest');
  if (digest.length === 0) throw invalid('missing digest');
  const content = bytesField(sig.content, 'signature.content');
  const { key, details, out } = verifierKey(sig.verifier);
  if (digest.length !== details.size) {
    throw invalid(`digest length (${digest.length}) does not match expected size (${details.size})`);
  }
  if (!verifyPrehashed(key, details, digest, content)) {
    throw invalid('invalid hashedrekord request: the signature does not verify');
  }
  return {
    kind: 'hashedrekord',
    apiVersion: '0.0.2',
    spec: {
      hashedRekordV002: {
        data: { algorithm: details.hash, digest: b64(digest) },
        signature: { content: b64(content), verifier: out },
      },
    },
  };
}

// A Rekor v2 log at `url` (http://HOST:PORT): `routes` for the stack's `listen`, and the
// trusted-root `tlogs[]` element that vouches for it.
function rekorV2(url, validFrom) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const raw = spki.subarray(spki.length - 32);
  const origin = url.replace(/^https?:\/\//, '');
  // note.KeyHash for Ed25519: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key); the hint is its first 4 bytes.
  const logId = sha256(Buffer.concat([Buffer.from(`${origin}\n`), Buffer.from([1]), raw]));
  const leaves = [];
  const indexOf = new Map(); // leaf hash (hex) → index: tessera's antispam, as deployed
  let checkpoint = null;

  function sign(size, root) {
    const body = `${origin}\n${size}\n${b64(root)}\n`;
    const sig = crypto.sign(null, Buffer.from(body), privateKey);
    return `${body}\n\u2014 ${origin} ${b64(Buffer.concat([logId.subarray(0, 4), sig]))}\n`;
  }

  async function create(_req, body) {
    let entry;
    try {
      let request;
      try {
        request = JSON.parse(body.toString());
      } catch (e) {
        throw invalid(`not JSON: ${e.message}`);
      }
      entry = toLogEntry(request);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      return {
        status: e.status,
        type: 'application/json',
        body: JSON.stringify({ code: e.code, message: e.message, details: [] }),
      };
    }
    const canonical = Buffer.from(canonicalize(entry));
    const leaf = sha256(Buffer.concat([Buffer.from([0]), canonical]));
    if (indexOf.has(leaf.toString('hex'))) {
      const at = indexOf.get(leaf.toString('hex'));
      return {
        status: 409,
        type: 'application/json',
        body: JSON.stringify({
          code: 6,
          message: `an equivalent entry already exists in the transparency log with index ${at}`,
          details: [],
        }),
      };
    }
    const index = leaves.length;
    leaves.push(leaf);
    indexOf.set(leaf.toString('hex'), index);
    const size = leaves.length;
    const root = mth(leaves);
    checkpoint = sign(size, root);
    const tle = {
      logIndex: String(index),
      logId: { keyId: b64(logId) },
      kindVersion: { kind: entry.kind, version: entry.apiVersion },
      integratedTime: '0',
      inclusionPromise: null,
      inclusionProof: {
        logIndex: String(index),
        rootHash: b64(root),
        treeSize: String(size),
        hashes: auditPath(index, leaves).map(b64),
        checkpoint: { envelope: checkpoint },
      },
      canonicalizedBody: b64(canonical),
    };
    return { status: 201, type: 'application/json', body: JSON.stringify(tle) };
  }

  const routes = {
    'POST /api/v2/log/entries': create,
    'GET /api/v2/checkpoint': async () => ({
      status: 200,
      type: 'text/plain',
      body: checkpoint || sign(0, mth([])),
    }),
  };
  const tlog = {
    baseUrl: url,
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: b64(spki),
      keyDetails: 'PKIX_ED25519',
      validFor: { start: validFrom },
    },
    logId: { keyId: b64(logId) },
  };
  return { routes, tlog };
}

module.exports = { rekorV2, mth, auditPath };
