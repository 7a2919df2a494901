#!/usr/bin/env python3
"""An independent producer of Notary Project JWS signature envelopes (for vouch's tests).

Written from the Notary Project specification (signature-envelope-jws.md,
signature-specification.md), not from vouch's code: a root CA, a leaf with the code-signing
EKU, and a JWS envelope (flattened JSON serialisation, ES256) whose payload is the target
descriptor given on the command line.

    notary_sign.py [--timestamp-pss] OUTDIR MEDIA_TYPE DIGEST SIZE [CN]

writes OUTDIR/root.pem (the trust store certificate) and OUTDIR/envelope.jws. With
--timestamp-pss, the envelope carries a timestamp countersignature
(`io.cncf.notary.timestampSignature`: an RFC 3161 token over the signature bytes) made by
OpenSSL and signed with RSASSA-PSS (keys-test/openssl_tsa.py); the TSA's root is written to
OUTDIR/tsa/tsa-root.pem (the `tsa` trust store certificate).
"""

import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "WA"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Seattle"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vouch-test"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--timestamp-pss"]
    timestamp = len(args) < len(sys.argv) - 1
    out, media_type, digest, size = args[0:4]
    cn = args[4] if len(args) > 4 else "vouch notary signer"
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name("vouch notary test root")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, False, False, False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(cn)).issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .sign(root_key, hashes.SHA256())
    )

    payload = json.dumps({"targetArtifact": {
        "mediaType": media_type, "digest": digest, "size": int(size)}}).encode()
    protected = json.dumps({
        "alg": "ES256",
        "crit": ["io.cncf.notary.signingScheme"],
        "cty": "application/vnd.cncf.notary.payload.v1+json",
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }).encode()
    signing_input = (b64url(protected) + "." + b64url(payload)).encode()
    r, s = decode_dss_signature(leaf_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    envelope = {
        "payload": b64url(payload),
        "protected": b64url(protected),
        "header": {
            "x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                    for c in (leaf, root)],
            "io.cncf.notary.signingAgent": "vouch-test notary_sign.py",
        },
        "signature": b64url(signature),
    }
    os.makedirs(out, exist_ok=True)
    if timestamp:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from openssl_tsa import Tsa
        token = Tsa(os.path.join(out, "tsa")).timestamp(signature)
        # Standard base64 DER, as x5c (signature-envelope-jws.md).
        envelope["header"]["io.cncf.notary.timestampSignature"] = base64.b64encode(token).decode()
    with open(os.path.join(out, "root.pem"), "wb") as f:
        f.write(root.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(out, "envelope.jws"), "w") as f:
        json.dump(envelope, f)


if __name__ == "__main__":
    main()
