#!/usr/bin/env python3
"""An independent implementation of cosign's key file format and blob signatures.

Written from cosign's format description (go-securesystemslib `encrypted` + cosign
`pkg/cosign/keys.go`), using only Python's `cryptography`, `pynacl` and `hashlib.scrypt`:
no vouch code. The interop tests run it against vouch in both directions.

Usage (the password comes from COSIGN_PASSWORD):
  cosign_keys.py generate PREFIX [N]          write PREFIX.key / PREFIX.pub (scrypt N, default 32768)
  cosign_keys.py public-key KEY               print the public key PEM of an encrypted key
  cosign_keys.py sign KEY FILE                print the base64 signature of FILE
  cosign_keys.py verify PUB SIGFILE FILE      exit 0 if SIGFILE (base64) signs FILE, else 1
  cosign_keys.py verify-bundle PUB BUNDLE FILE
  cosign_keys.py sign-image KEY HOST REPO DIGEST [--payload-digest D] [--tamper-payload]
        add a cosign signature (simple signing, `sha256-<hex>.sig` tag) in a registry (plain HTTP)
  cosign_keys.py verify-image PUB HOST REPO DIGEST
        exit 0 if some layer of the .sig tag is a valid signature of DIGEST by PUB, else 1
  cosign_keys.py attest-image KEY HOST REPO DIGEST PREDICATE_TYPE PREDICATE_FILE [--subject-digest D]
        add a DSSE in-toto attestation (`sha256-<hex>.att` tag) in a registry
  cosign_keys.py verify-attestation PUB HOST REPO DIGEST [PREDICATE_TYPE]
        exit 0 if some layer of the .att tag is a DSSE envelope signed by PUB whose statement
        names DIGEST (and has PREDICATE_TYPE), else 1; prints the predicate types found
  cosign_keys.py verify-referrers PUB HOST REPO DIGEST [PREDICATE_TYPE]
        the same for cosign 3's format: sigstore bundle v0.3 referrers of DIGEST, found with the
        referrers API or, without it, the `sha256-<hex>` fallback index (OCI distribution 1.1)
  cosign_keys.py make-bundle KEY DIGEST PREDICATE_TYPE PREDICATE_FILE OUT
        write a key-signed sigstore bundle v0.3 (DSSE in-toto statement about DIGEST, no log
        entry) to OUT, as cosign 3 `attest --new-bundle-format` makes offline
"""

import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

import nacl.exceptions
import nacl.secret
import nacl.utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

LABELS = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")


def password():
    pw = os.environ.get("COSIGN_PASSWORD")
    if pw is None:
        sys.exit("COSIGN_PASSWORD is not set")
    return pw.encode()


def pem_encode(label, der):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


def pem_decode(text):
    lines = text.strip().splitlines()
    begin = next(i for i, l in enumerate(lines) if l.startswith("-----BEGIN "))
    label = lines[begin][len("-----BEGIN "):-5]
    end = next(i for i, l in enumerate(lines) if l.startswith("-----END "))
    return label, base64.b64decode("".join(lines[begin + 1:end]))


def scrypt(pw, salt, n, r, p):
    return hashlib.scrypt(pw, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=1 << 30)


def generate(prefix, n=32768):
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt = os.urandom(32)
    nonce = nacl.utils.random(24)
    box = nacl.secret.SecretBox(scrypt(password(), salt, n, 8, 1))
    ciphertext = box.encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": 8, "p": 1},
                "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    body = json.dumps(doc, separators=(",", ":")).encode()
    fd = os.open(prefix + ".key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pem_encode(LABELS[0], body))
    with open(prefix + ".pub", "w") as f:
        f.write(public_pem(key))


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private(path):
    label, body = pem_decode(open(path).read())
    if label not in LABELS:
        sys.exit("%s: unexpected PEM label %r" % (path, label))
    doc = json.loads(body)
    if doc["kdf"]["name"] != "scrypt" or doc["cipher"]["name"] != "nacl/secretbox":
        sys.exit("%s: unsupported kdf or cipher" % path)
    params = doc["kdf"]["params"]
    secret = scrypt(password(), base64.b64decode(doc["kdf"]["salt"]),
                    params["N"], params["r"], params["p"])
    try:
        der = nacl.secret.SecretBox(secret).decrypt(base64.b64decode(doc["ciphertext"]),
                                                    base64.b64decode(doc["cipher"]["nonce"]))
    except nacl.exceptions.CryptoError:
        sys.exit("%s: wrong password" % path)
    key = serialization.load_der_private_key(der, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        sys.exit("%s: not an ECDSA P-256 key" % path)
    return key


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def sign(key_path, path):
    key = load_private(key_path)
    sig = key.sign(file_digest(path), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    print(base64.b64encode(sig).decode())


def check(pub_path, sig, digest):
    pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
    try:
        pub.verify(sig, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        print("invalid signature", file=sys.stderr)
        sys.exit(1)
    print("Verified OK", file=sys.stderr)


def verify(pub_path, sig_path, path):
    check(pub_path, base64.b64decode(open(sig_path).read().strip()), file_digest(path))


def verify_bundle(pub_path, bundle_path, path):
    bundle = json.load(open(bundle_path))
    if bundle["mediaType"] != "application/vnd.dev.sigstore.bundle.v0.3+json":
        sys.exit("unexpected bundle media type %r" % bundle["mediaType"])
    pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
    spki = pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    hint = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    if bundle["verificationMaterial"]["publicKey"]["hint"] != hint:
        sys.exit("publicKey.hint does not match the key")
    ms = bundle["messageSignature"]
    digest = file_digest(path)
    if ms["messageDigest"]["algorithm"] != "SHA2_256" or \
            base64.b64decode(ms["messageDigest"]["digest"]) != digest:
        print("message digest does not match the file", file=sys.stderr)
        sys.exit(1)
    check(pub_path, base64.b64decode(ms["signature"]), digest)


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def push_blob(base, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, _ = http("POST", base + "/blobs/uploads/", b"")
    if status != 202:
        sys.exit("blob upload start failed: %d" % status)
    location = headers["Location"]
    if location.startswith("/"):
        location = base.split("/v2/")[0] + location
    sep = "&" if "?" in location else "?"
    status, _, body = http("PUT", location + sep + "digest=" + digest, data,
                           {"Content-Type": "application/octet-stream"})
    if status != 201:
        sys.exit("blob upload failed: %d %r" % (status, body))
    return {"mediaType": SIMPLE_SIGNING, "size": len(data), "digest": digest}


def sig_manifest(base, digest):
    tag = digest.replace(":", "-") + ".sig"
    status, _, body = http("GET", base + "/manifests/" + tag, None, {"Accept": OCI_MANIFEST})
    if status == 404:
        return tag, None
    if status != 200:
        sys.exit("GET %s: %d" % (tag, status))
    return tag, json.loads(body)


def sign_image(key_path, host, repo, digest, opts):
    key = load_private(key_path)
    payload_digest = digest
    if "--payload-digest" in opts:
        payload_digest = opts[opts.index("--payload-digest") + 1]
    payload = json.dumps({
        "critical": {"identity": {"docker-reference": host + "/" + repo},
                     "image": {"docker-manifest-digest": payload_digest},
                     "type": "cosign container image signature"},
        "optional": None}, separators=(",", ":")).encode()
    sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    if "--tamper-payload" in opts:
        payload = payload.replace(b'"optional":null', b'"optional":{"x":"y"}')
    base = "http://%s/v2/%s" % (host, repo)
    tag, manifest = sig_manifest(base, digest)
    layers = manifest["layers"] if manifest else []
    layer = push_blob(base, payload)
    layer["annotations"] = {SIG_ANNOTATION: sig}
    layers.append(layer)
    config = json.dumps({
        "architecture": "", "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
        "os": "", "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
        "config": {}}, separators=(",", ":")).encode()
    cdesc = push_blob(base, config)
    cdesc["mediaType"] = "application/vnd.oci.image.config.v1+json"
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
                       "layers": layers}, separators=(",", ":")).encode()
    status, _, resp = http("PUT", base + "/manifests/" + tag, body, {"Content-Type": OCI_MANIFEST})
    if status != 201:
        sys.exit("manifest PUT failed: %d %r" % (status, resp))


def verify_image(pub_path, host, repo, digest):
    pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
    base = "http://%s/v2/%s" % (host, repo)
    _, manifest = sig_manifest(base, digest)
    valid = 0
    for i, layer in enumerate((manifest or {}).get("layers", [])):
        status, _, blob = http("GET", base + "/blobs/" + layer["digest"])
        if status != 200 or "sha256:" + hashlib.sha256(blob).hexdigest() != layer["digest"]:
            print("layer %d: blob does not match its digest" % i, file=sys.stderr)
            continue
        try:
            sig = base64.b64decode(layer.get("annotations", {}).get(SIG_ANNOTATION, ""))
            pub.verify(sig, blob, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            print("layer %d: invalid signature" % i, file=sys.stderr)
            continue
        payload = json.loads(blob)
        signed = payload["critical"]["image"]["docker-manifest-digest"]
        if signed != digest or payload["critical"]["type"] != "cosign container image signature":
            print("layer %d: signs %s, not %s" % (i, signed, digest), file=sys.stderr)
            continue
        valid += 1
    print("%d valid signature(s)" % valid, file=sys.stderr)
    sys.exit(0 if valid else 1)


DSSE = "application/vnd.dsse.envelope.v1+json"
INTOTO = "application/vnd.in-toto+json"


def pae(payload_type, payload):
    """DSSE pre-authentication encoding (secure-systems-lab/dsse protocol.md)."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def push_manifest_with(base, tag, layers):
    config = json.dumps({
        "architecture": "", "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
        "os": "", "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
        "config": {}}, separators=(",", ":")).encode()
    cdesc = push_blob(base, config)
    cdesc["mediaType"] = "application/vnd.oci.image.config.v1+json"
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc,
                       "layers": layers}, separators=(",", ":")).encode()
    status, _, resp = http("PUT", base + "/manifests/" + tag, body, {"Content-Type": OCI_MANIFEST})
    if status != 201:
        sys.exit("manifest PUT failed: %d %r" % (status, resp))


def attest_image(key_path, host, repo, digest, predicate_type, predicate_path, opts=()):
    key = load_private(key_path)
    subject = digest
    if "--subject-digest" in opts:
        subject = opts[opts.index("--subject-digest") + 1]
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": host + "/" + repo, "digest": {"sha256": subject.split(":", 1)[1]}}],
        "predicateType": predicate_type,
        "predicate": json.load(open(predicate_path))}, separators=(",", ":")).encode()
    sig = key.sign(pae(INTOTO, statement), ec.ECDSA(hashes.SHA256()))
    envelope = json.dumps({"payloadType": INTOTO, "payload": base64.b64encode(statement).decode(),
                           "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}]},
                          separators=(",", ":")).encode()
    base = "http://%s/v2/%s" % (host, repo)
    tag = digest.replace(":", "-") + ".att"
    status, _, body = http("GET", base + "/manifests/" + tag, None, {"Accept": OCI_MANIFEST})
    layers = json.loads(body)["layers"] if status == 200 else []
    layer = push_blob(base, envelope)
    layer["mediaType"] = DSSE
    layer["annotations"] = {"predicateType": predicate_type, SIG_ANNOTATION: ""}
    layers.append(layer)
    push_manifest_with(base, tag, layers)


def verify_attestation(pub_path, host, repo, digest, wanted=None):
    pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
    base = "http://%s/v2/%s" % (host, repo)
    tag = digest.replace(":", "-") + ".att"
    status, _, body = http("GET", base + "/manifests/" + tag, None, {"Accept": OCI_MANIFEST})
    layers = json.loads(body)["layers"] if status == 200 else []
    found = []
    for i, layer in enumerate(layers):
        status, _, blob = http("GET", base + "/blobs/" + layer["digest"])
        if status != 200 or "sha256:" + hashlib.sha256(blob).hexdigest() != layer["digest"]:
            print("layer %d: blob does not match its digest" % i, file=sys.stderr)
            continue
        st = check_envelope(pub, json.loads(blob), digest, wanted, "layer %d" % i)
        if st:
            found.append(st["predicateType"])
    print("\n".join(found))
    sys.exit(0 if found else 1)


def check_envelope(pub, env, digest, wanted, what):
    """The in-toto statement of a DSSE envelope signed by `pub` about `digest`, else None."""
    payload = base64.b64decode(env["payload"])
    ok = False
    for s in env["signatures"]:
        try:
            pub.verify(base64.b64decode(s["sig"]), pae(env["payloadType"], payload),
                       ec.ECDSA(hashes.SHA256()))
            ok = True
        except InvalidSignature:
            pass
    if not ok or env["payloadType"] != INTOTO:
        print("%s: no valid DSSE signature" % what, file=sys.stderr)
        return None
    st = json.loads(payload)
    if digest.split(":", 1)[1] not in [x.get("digest", {}).get("sha256") for x in st["subject"]]:
        print("%s: subject is not %s" % (what, digest), file=sys.stderr)
        return None
    if wanted and st["predicateType"] != wanted:
        print("%s: predicate type %s" % (what, st["predicateType"]), file=sys.stderr)
        return None
    return st


BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def get_verified(base, kind, digest, accept):
    status, _, body = http("GET", "%s/%s/%s" % (base, kind, digest), None, {"Accept": accept})
    if status != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != digest:
        return None
    return body


def verify_referrers(pub_path, host, repo, digest, wanted=None):
    pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
    spki = pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    hint = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    base = "http://%s/v2/%s" % (host, repo)
    status, _, body = http("GET", base + "/referrers/" + digest, None, {"Accept": OCI_INDEX})
    if status != 200:  # no referrers API: the fallback tag
        tag = digest.replace(":", "-")
        status, _, body = http("GET", base + "/manifests/" + tag, None, {"Accept": OCI_INDEX})
    entries = json.loads(body).get("manifests", []) if status == 200 else []
    found = []
    for i, entry in enumerate(entries):
        what = "referrer %d" % i
        if entry.get("artifactType") != BUNDLE_V03:
            continue
        raw = get_verified(base, "manifests", entry["digest"], OCI_MANIFEST)
        if raw is None:
            print("%s: manifest does not match its digest" % what, file=sys.stderr)
            continue
        m = json.loads(raw)
        if m.get("subject", {}).get("digest") != digest or m.get("artifactType") != BUNDLE_V03 \
                or m["config"]["mediaType"] != "application/vnd.oci.empty.v1+json" \
                or len(m["layers"]) != 1 or m["layers"][0]["mediaType"] != BUNDLE_V03:
            print("%s: not a bundle referrer of %s" % (what, digest), file=sys.stderr)
            continue
        blob = get_verified(base, "blobs", m["layers"][0]["digest"], "*/*")
        if blob is None:
            print("%s: bundle does not match its digest" % what, file=sys.stderr)
            continue
        bundle = json.loads(blob)
        if bundle.get("mediaType") != BUNDLE_V03 or \
                bundle["verificationMaterial"].get("publicKey", {}).get("hint") != hint:
            print("%s: not a v0.3 bundle for this key" % what, file=sys.stderr)
            continue
        st = check_envelope(pub, bundle["dsseEnvelope"], digest, wanted, what)
        if st:
            found.append(st["predicateType"])
    print("\n".join(found))
    sys.exit(0 if found else 1)


def make_bundle(key_path, digest, predicate_type, predicate_path, out):
    key = load_private(key_path)
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": predicate_type,
        "predicate": json.load(open(predicate_path))}, separators=(",", ":")).encode()
    sig = key.sign(pae(INTOTO, statement), ec.ECDSA(hashes.SHA256()))
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    bundle = {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "publicKey": {"hint": base64.b64encode(hashlib.sha256(spki).digest()).decode()},
            "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(statement).decode(),
            "payloadType": INTOTO,
            "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}]}}
    open(out, "w").write(json.dumps(bundle))


def main(argv):
    cmds = {
        "generate": lambda a: generate(a[0], int(a[1]) if len(a) > 1 else 32768),
        "public-key": lambda a: print(public_pem(load_private(a[0])), end=""),
        "sign": lambda a: sign(a[0], a[1]),
        "verify": lambda a: verify(a[0], a[1], a[2]),
        "verify-bundle": lambda a: verify_bundle(a[0], a[1], a[2]),
        "sign-image": lambda a: sign_image(a[0], a[1], a[2], a[3], a[4:]),
        "verify-image": lambda a: verify_image(a[0], a[1], a[2], a[3]),
        "attest-image": lambda a: attest_image(a[0], a[1], a[2], a[3], a[4], a[5], a[6:]),
        "verify-attestation": lambda a: verify_attestation(a[0], a[1], a[2], a[3], *a[4:5]),
        "verify-referrers": lambda a: verify_referrers(a[0], a[1], a[2], a[3], *a[4:5]),
        "make-bundle": lambda a: make_bundle(a[0], a[1], a[2], a[3], a[4]),
    }
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](argv[2:])


if __name__ == "__main__":
    main(sys.argv)
