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
"""

import base64
import hashlib
import json
import os
import sys

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


def main(argv):
    cmds = {
        "generate": lambda a: generate(a[0], int(a[1]) if len(a) > 1 else 32768),
        "public-key": lambda a: print(public_pem(load_private(a[0])), end=""),
        "sign": lambda a: sign(a[0], a[1]),
        "verify": lambda a: verify(a[0], a[1], a[2]),
        "verify-bundle": lambda a: verify_bundle(a[0], a[1], a[2]),
    }
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](argv[2:])


if __name__ == "__main__":
    main(sys.argv)
