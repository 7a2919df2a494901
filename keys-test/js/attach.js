#!/usr/bin/env node
// Attaches a sigstore bundle to an image as an OCI 1.1 referrer with sigstore-js's
// @sigstore/oci (what GitHub's actions/attest uses): referrers API where the registry has it,
// else the `sha256-<hex>` fallback index. Not vouch code: the interop tests run it against vouch.
//
//   node attach.js HOST/REPO DIGEST BUNDLE PREDICATE_TYPE
//   (registry credentials from REGISTRY_USER / REGISTRY_PASSWORD)
'use strict';
const fs = require('fs');
const { attachArtifactToImage } = require('@sigstore/oci');

async function main() {
  const [imageName, imageDigest, bundlePath, predicateType] = process.argv.slice(2);
  const descriptor = await attachArtifactToImage({
    imageName,
    imageDigest,
    artifact: fs.readFileSync(bundlePath),
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
    },
    credentials: {
      username: process.env.REGISTRY_USER || '',
      password: process.env.REGISTRY_PASSWORD || '',
    },
  });
  console.log(JSON.stringify(descriptor));
}

main().catch((e) => {
  console.error(e, e.cause);
  process.exit(1);
});
