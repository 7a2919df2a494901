#!/usr/bin/env node
// sigstore-js (@sigstore/verify) as a sigstore-conformance client, offline: the verify-bundle
// half of sigstore-js's own conformance CLI (sigstore/sigstore-js packages/conformance,
// src/commands/verify-bundle.ts and src/trust.ts), without oclif and without TUF. Not vouch code:
// tests/e2e/wild_peers.rs compares its verdicts with vouch's.
//
//   node sigstore_js_verify.js verify-bundle --bundle FILE
//       (--certificate-identity ID --certificate-oidc-issuer URL | --key PUB)
//       --trusted-root FILE  FILE_OR_sha256:DIGEST
//
// `node sigstore_js_verify.js batch` runs many such verifications in one process (see batch()).
// Also --certificate-identity-regexp (sigstore-js's policy takes the identity as a regular
// expression anyway). Exit 0: verified; 1: rejected (the reason on stderr); 2: the driver was
// misused; 3: sigstore-js cannot judge this (--certificate-oidc-issuer-regexp: its policy compares
// the issuer exactly; a digest but sha256, which the conformance protocol does not have).
//
// The packages come from keys-test/js (package-lock.json pins them; scripts/test runs npm ci).
'use strict';
const { existsSync, readFileSync } = require('fs');
const crypto = require('crypto');
const path = require('path');
const { createRequire } = require('module');

const jsRequire = createRequire(path.join(__dirname, '..', 'js', 'package.json'));
const { bundleFromJSON } = jsRequire('@sigstore/bundle');
const { TrustedRoot } = jsRequire('@sigstore/protobuf-specs');
const { toSignedEntity, toTrustMaterial, Verifier } = jsRequire('@sigstore/verify');

const DIGEST_PREFIX = 'sha256:';

// The driver's own misuse (exit 2).
class Usage extends Error {}

function usage(msg) {
  throw new Usage(`sigstore_js_verify: ${msg}`);
}

function parseArgs(argv) {
  if (argv[0] !== 'verify-bundle') usage('the first argument must be verify-bundle');
  const flags = {};
  const positional = [];
  const known = new Set([
    '--bundle',
    '--certificate-identity',
    '--certificate-identity-regexp',
    '--certificate-oidc-issuer',
    '--certificate-oidc-issuer-regexp',
    '--key',
    '--trusted-root',
  ]);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a : a.slice(0, eq);
      if (!known.has(name)) usage(`unknown flag ${name}`);
      let value;
      if (eq >= 0) {
        value = a.slice(eq + 1);
      } else {
        if (i + 1 >= argv.length) usage(`${name} needs a value`);
        value = argv[++i];
      }
      flags[name.slice(2)] = value;
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 1) usage('exactly one FILE_OR_sha256:DIGEST is needed');
  if (!flags.bundle) usage('--bundle is required');
  return { flags, fileOrDigest: positional[0] };
}

// One verify-bundle: its exit code (0, 1, 2 or 3) and what it has to say (for stderr).
function verify(argv) {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (e instanceof Usage) return { code: 2, message: e.message };
    throw e;
  }
  const { flags, fileOrDigest } = parsed;
  const identity = flags['certificate-identity'] ?? flags['certificate-identity-regexp'];
  const issuer = flags['certificate-oidc-issuer'];
  if (!flags.key && (!identity || !(issuer || flags['certificate-oidc-issuer-regexp']))) {
    return {
      code: 2,
      message: 'sigstore_js_verify: --certificate-identity and --certificate-oidc-issuer are required without --key',
    };
  }
  if (!flags['trusted-root']) {
    // The conformance client would fetch the public-good root with TUF: not offline.
    return { code: 2, message: 'sigstore_js_verify: --trusted-root is required (offline, no TUF)' };
  }
  const algorithm = /^([a-z0-9]+):[0-9a-fA-F]+$/.exec(fileOrDigest);
  if (algorithm && algorithm[1] !== 'sha256' && !existsSync(fileOrDigest)) {
    // The conformance protocol's digests are sha256 (the client would open it as a file).
    return { code: 3, message: 'unsupported: the conformance client takes sha256 digests only' };
  }
  if (!flags.key && flags['certificate-oidc-issuer-regexp'] !== undefined) {
    return { code: 3, message: 'unsupported: sigstore-js compares the OIDC issuer exactly' };
  }

  try {
    // As the conformance client: bundleFromJSON, a TrustMaterial from the trusted root, the key
    // (if any) put in place of the trust material's key finder, then Verifier.verify.
    const bundle = bundleFromJSON(JSON.parse(readFileSync(flags.bundle, 'utf8')));
    const trustedRoot = TrustedRoot.fromJSON(
      JSON.parse(readFileSync(flags['trusted-root'], 'utf8'))
    );
    const trustMaterial = toTrustMaterial(trustedRoot);
    if (flags.key) {
      const publicKey = crypto.createPublicKey(readFileSync(flags.key));
      trustMaterial.publicKey = () => ({ publicKey, validFor: () => true });
    }
    const verifier = new Verifier(trustMaterial);
    const signedEntity = isDigest(fileOrDigest)
      ? signedEntityFromDigest(bundle, fileOrDigest)
      : toSignedEntity(bundle, readFileSync(fileOrDigest));
    if (flags.key) {
      verifier.verify(signedEntity);
    } else {
      verifier.verify(signedEntity, {
        subjectAlternativeName: identity,
        extensions: { issuer },
      });
    }
  } catch (e) {
    const code = e && e.code ? `${e.code}: ` : '';
    const text = String(e && e.message ? e.message : e).replace(/\s*\n\s*/g, ' / ');
    return { code: 1, message: `FAIL: ${code}${text}` };
  }
  return { code: 0, message: `OK: ${fileOrDigest}` };
}

// `batch`: one JSON array of verify-bundle arguments a line on stdin; for each, one line
// {"exit": N, "stderr": "..."} on stdout, as if the driver had been run with them (one node for
// many cases: the test runs every case through the peers).
function batch() {
  const lines = readFileSync(0, 'utf8').split('\n');
  for (const line of lines) {
    if (!line.trim()) continue;
    let result;
    try {
      result = verify(JSON.parse(line));
    } catch (e) {
      result = { code: 2, message: `sigstore_js_verify: ${e && e.stack ? e.stack : e}` };
    }
    process.stdout.write(JSON.stringify({ exit: result.code, stderr: `${result.message}\n` }) + '\n');
  }
}

function main() {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && argv[0] === 'batch') {
    batch();
    return;
  }
  const { code, message } = verify(argv);
  process.stderr.write(`${message}\n`);
  process.exitCode = code;
}

function isDigest(fileOrDigest) {
  return (
    fileOrDigest.startsWith(DIGEST_PREFIX) &&
    fileOrDigest.length === 64 + DIGEST_PREFIX.length &&
    !existsSync(fileOrDigest)
  );
}

// As the conformance client: for a message signature, a signature content that verifies the
// signature over the given digest (node's crypto cannot verify a pre-hashed message, so elliptic
// does); a DSSE envelope is verified as it is (sigstore-js does not compare in-toto subjects with
// the artifact in either case).
function signedEntityFromDigest(bundle, digest) {
  const signedEntity = toSignedEntity(bundle);
  if (bundle.content.$case === 'messageSignature') {
    signedEntity.signature = new MessageDigestSignatureContent(
      bundle.content.messageSignature,
      digest.slice(DIGEST_PREFIX.length)
    );
  }
  return signedEntity;
}

class MessageDigestSignatureContent {
  constructor(messageSignature, digest) {
    this.messageSignature = messageSignature;
    this.digest = digest;
  }

  get signature() {
    return this.messageSignature.signature;
  }

  compareSignature(signature) {
    return (
      signature.length === this.signature.length &&
      crypto.timingSafeEqual(signature, this.signature)
    );
  }

  compareDigest(digest) {
    const own = this.messageSignature.messageDigest.digest;
    return digest.length === own.length && crypto.timingSafeEqual(digest, own);
  }

  compareSignedDigest(digest) {
    return this.compareDigest(digest);
  }

  verifySignature(key) {
    const EC = jsRequire('elliptic').ec;
    const jwk = key.export({ format: 'jwk' });
    const curve = key.asymmetricKeyDetails && key.asymmetricKeyDetails.namedCurve;
    const ec = curve === 'prime256v1' ? new EC('p256') : curve === 'secp384r1' ? new EC('p384') : null;
    if (!ec) throw new Error(`unsupported curve for a digest: ${curve}`);
    const eckey = ec.keyFromPublic(
      {
        x: Buffer.from(jwk.x, 'base64').toString('hex'),
        y: Buffer.from(jwk.y, 'base64').toString('hex'),
      },
      'hex'
    );
    return eckey.verify(this.digest, this.signature);
  }
}

main();
