#!/usr/bin/env python3
"""An independent producer of Notary Project JWS signature envelopes (for vouch's tests).

Written from the Notary Project specification (signature-envelope-jws.md,
signature-specification.md), not from vouch's code: a root CA, a leaf with the code-signing
EKU, and a JWS envelope (flattened JSON serialisation, ES256) whose payload is the target
descriptor given on the command line.

    notary_sign.py [--timestamp-pss] [--crls] [--at YYYY-MM-DDTHH:MM:SSZ] OUTDIR MEDIA_TYPE DIGEST SIZE [CN]

writes OUTDIR/root.pem (the trust store certificate) and OUTDIR/envelope.jws. With
--timestamp-pss, the envelope carries a timestamp countersignature
(`io.cncf.notary.timestampSignature`: an RFC 3161 token over the signature bytes) made by
OpenSSL and signed with RSASSA-PSS (keys-test/openssl_tsa.py); the TSA's root is written to
OUTDIR/tsa/tsa-root.pem (the `tsa` trust store certificate).

With --crls (written from RFC 5280 section 5, for revocation checking): the chain is
leaf -> intermediate -> root, the leaf and the intermediate name a CRL distribution point
(http://crl.invalid/...), both CAs may sign CRLs, and OUTDIR/crl/ receives DER X.509 v2 CRLs
(times relative to --at, default now):

    root-empty.crl          the root's CRL, revoking nothing (covers the intermediate)
    root-revokes-int.crl    the root's CRL revoking the intermediate (cACompromise)
    int-empty.crl           the intermediate's CRL, revoking nothing (covers the leaf)
    int-revokes-leaf.crl    the intermediate's CRL revoking the leaf (keyCompromise)
    int-revokes-leaf.pem    the same in PEM
    int-expired.crl         the intermediate's empty CRL whose nextUpdate has passed
    int-wrong-key.crl       named for the intermediate, revoking nothing, signed by another key
    int-critical.crl        the intermediate's empty CRL with an unknown critical extension
    int-hold.crl            base CRL number 10: the leaf on certificateHold
    int-delta-remove.crl    delta CRL number 11 over base 10: the leaf removeFromCRL
    int-invalidity.crl      the leaf revoked (keyCompromise) with an invalidity date one hour
                            after the signing time
    other-revokes-serial.crl  another CA's CRL listing the leaf's serial (must not count)

plus OUTDIR/chain.pem (leaf, intermediate, root) and OUTDIR/info.json (serials, times).
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


def crl(issuer_name, key, this_update, next_update, entries=(), number=1, extensions=()):
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_name)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    for serial, when, reason, invalidity in entries:
        e = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            e = e.add_extension(x509.CRLReason(reason), critical=False)
        if invalidity is not None:
            e = e.add_extension(x509.InvalidityDate(invalidity), critical=False)
        b = b.add_revoked_certificate(e.build())
    return b.sign(key, hashes.SHA256())


def serial_hex(n: int) -> str:
    """A serial as the hex of its big-endian bytes (an even number of digits, as certificate
    tools print it; format(n, "x") would drop a leading zero digit one time in sixteen)."""
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big").hex()


def cdp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)], relative_name=None,
        reasons=None, crl_issuer=None)])


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--timestamp-pss"]
    timestamp = len(args) < len(sys.argv) - 1
    crls = "--crls" in args
    at = None
    if "--at" in args:
        i = args.index("--at")
        at = datetime.datetime.strptime(args[i + 1], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        del args[i:i + 2]
    args = [a for a in args if a != "--crls"]
    out, media_type, digest, size = args[0:4]
    cn = args[4] if len(args) > 4 else "vouch notary signer"
    now = at or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    if crls:
        # Fixtures checked in are read years later: a validity long enough for them.
        start, end = now - datetime.timedelta(days=30), now + datetime.timedelta(days=3650)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name("vouch notary test root")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, crls, False, False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    issuer_name, issuer_key, chain_cas = root_name, root_key, [root]
    if crls:
        int_key = ec.generate_private_key(ec.SECP256R1())
        int_name = name("vouch notary test intermediate")
        intermediate = (
            x509.CertificateBuilder()
            .subject_name(int_name).issuer_name(root_name)
            .public_key(int_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(cdp("http://crl.invalid/root.crl"), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        issuer_name, issuer_key, chain_cas = int_name, int_key, [intermediate, root]
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn)).issuer_name(issuer_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    )
    if crls:
        leaf_builder = leaf_builder.add_extension(cdp("http://crl.invalid/intermediate.crl"), critical=False)
    leaf = leaf_builder.sign(issuer_key, hashes.SHA256())

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
                    for c in [leaf] + chain_cas],
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
    if crls:
        write_crls(out, now, root_name, root_key, chain_cas[0], int_key, leaf)


def write_crls(out, now, root_name, root_key, intermediate, int_key, leaf) -> None:
    day = datetime.timedelta(days=1)
    int_name = intermediate.subject
    this_update, next_update = now - day, now + datetime.timedelta(days=3650)
    leaf_serial, int_serial = leaf.serial_number, intermediate.serial_number
    R = x509.ReasonFlags
    other_key = ec.generate_private_key(ec.SECP256R1())
    files = {
        "root-empty.crl": crl(root_name, root_key, this_update, next_update),
        "root-revokes-int.crl": crl(root_name, root_key, this_update, next_update,
                                    [(int_serial, now - day, R.ca_compromise, None)]),
        "int-empty.crl": crl(int_name, int_key, this_update, next_update),
        "int-revokes-leaf.crl": crl(int_name, int_key, this_update, next_update,
                                    [(leaf_serial, now - day, R.key_compromise, None)]),
        "int-expired.crl": crl(int_name, int_key, now - 10 * day, now - 3 * day),
        "int-wrong-key.crl": crl(int_name, other_key, this_update, next_update),
        "int-critical.crl": crl(int_name, int_key, this_update, next_update, extensions=[
            (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.57264.99.1"), b"\x05\x00"), True)]),
        "int-hold.crl": crl(int_name, int_key, this_update, next_update,
                            [(leaf_serial, now - 3 * day, R.certificate_hold, None)], number=10),
        "int-delta-remove.crl": crl(int_name, int_key, this_update, next_update,
                                    [(leaf_serial, now - day, R.remove_from_crl, None)], number=11,
                                    extensions=[(x509.DeltaCRLIndicator(10), True)]),
        "int-invalidity.crl": crl(int_name, int_key, this_update, next_update,
                                  [(leaf_serial, now - day, R.key_compromise,
                                    now + datetime.timedelta(hours=1))]),
        "other-revokes-serial.crl": crl(name("some other CA"), other_key, this_update, next_update,
                                        [(leaf_serial, now - day, R.key_compromise, None)]),
    }
    os.makedirs(os.path.join(out, "crl"), exist_ok=True)
    for fname, c in files.items():
        with open(os.path.join(out, "crl", fname), "wb") as f:
            f.write(c.public_bytes(serialization.Encoding.DER))
    with open(os.path.join(out, "crl", "int-revokes-leaf.pem"), "wb") as f:
        f.write(files["int-revokes-leaf.crl"].public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(out, "chain.pem"), "wb") as f:
        for c in (leaf, intermediate):
            f.write(c.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(out, "root.pem"), "rb") as r:
            f.write(r.read())
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump({"leafSerial": serial_hex(leaf_serial), "intermediateSerial": serial_hex(int_serial),
                   "at": int(now.timestamp()), "revokedAt": int((now - day).timestamp())}, f)


if __name__ == "__main__":
    main()
