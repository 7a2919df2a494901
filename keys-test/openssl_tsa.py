#!/usr/bin/env python3
"""RFC 3161 timestamp tokens made by OpenSSL (the `openssl` command), for vouch's tests.

An independent producer: OpenSSL's `ts -reply` makes the TSTInfo (message imprint, serial,
genTime, accuracy, nonce) and its CMS code signs it. `openssl ts -reply` itself signs only
with PKCS #1 v1.5 (it writes PKCS #7, whose signer refuses RSA-PSS), so for an RSA-PSS token
the TSTInfo of its reply is signed again by `openssl cms -sign` with
`-keyopt rsa_padding_mode:pss` (id-RSASSA-PSS with its RFC 4055 parameters), `-econtent_type`
id-ct-TSTInfo and `-cades` (the ESS signing-certificate-v2 attribute RFC 3161 asks for).

The TSA: an RSA 3072 root and an RSA 3072 leaf (rsaEncryption key) with the critical
timeStamping extended key usage, both made with `openssl req` / `openssl x509`.

    openssl_tsa.py OUTDIR

writes the token set checked in under tests/data/rfc3161-pss/ (see its README):
tsa-root.pem, tsa.pem, message.txt and the tokens over message.txt. As a module,
`Tsa(dir).timestamp(data, ...)` returns a token (DER TimeStampToken) over `data`.
"""

import os
import subprocess
import sys

TSTINFO = "1.2.840.113549.1.9.16.1.4"

EXTENSIONS = """\
[root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[tsa]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=critical,timeStamping
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
"""

TS_CONFIG = """\
[tsa]
default_tsa=vouch
[vouch]
serial={dir}/serial
signer_cert={dir}/tsa.pem
signer_key={dir}/tsa.key
certs={dir}/tsa.pem
signer_digest=sha256
default_policy=1.3.6.1.4.1.4146.2.3
digests=sha256,sha384,sha512
accuracy=secs:1
ordering=no
tsa_name=no
ess_cert_id_chain=no
ess_cert_id_alg=sha256
"""


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


class Tsa:
    """A TSA in `dir`: made on first use, reused after."""

    def __init__(self, directory: str, days: int = 3650):
        self.dir = os.path.abspath(directory)
        os.makedirs(self.dir, exist_ok=True)
        if os.path.exists(self.path("tsa.pem")):
            return
        with open(self.path("ext.cnf"), "w") as f:
            f.write(EXTENSIONS)
        with open(self.path("ts.cnf"), "w") as f:
            f.write(TS_CONFIG.format(dir=self.dir))
        with open(self.path("serial"), "w") as f:
            f.write("01\n")
        openssl("req", "-x509", "-newkey", "rsa:3072", "-nodes", "-keyout",
                self.path("tsa-root.key"), "-out", self.path("tsa-root.pem"), "-subj",
                "/O=vouch-test/CN=vouch openssl tsa root", "-days", str(days), "-config",
                self.path("ext.cnf"), "-extensions", "root")
        openssl("req", "-new", "-newkey", "rsa:3072", "-nodes", "-keyout", self.path("tsa.key"),
                "-subj", "/O=vouch-test/CN=vouch openssl tsa", "-out", self.path("tsa.csr"))
        openssl("x509", "-req", "-in", self.path("tsa.csr"), "-CA", self.path("tsa-root.pem"),
                "-CAkey", self.path("tsa-root.key"), "-CAcreateserial", "-days", str(days),
                "-extfile", self.path("ext.cnf"), "-extensions", "tsa", "-out",
                self.path("tsa.pem"))

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def timestamp(self, data: bytes, hash_name: str = "sha256", padding: str = "pss",
                  salt: int | None = None, mgf1: str | None = None) -> bytes:
        """A TimeStampToken over `data` (imprint under `hash_name`), signed with `padding`
        ("pss" or "pkcs1"); for PSS, the salt length (default: the hash's length) and the
        MGF1 hash (default: `hash_name`)."""
        work = self.path("work")
        os.makedirs(work, exist_ok=True)
        w = lambda n: os.path.join(work, n)  # noqa: E731
        with open(w("data"), "wb") as f:
            f.write(data)
        openssl("ts", "-query", "-data", w("data"), f"-{hash_name}", "-cert", "-out", w("q.tsq"))
        openssl("ts", "-reply", "-config", self.path("ts.cnf"), "-section", "vouch",
                "-queryfile", w("q.tsq"), "-out", w("r.tsr"))
        openssl("ts", "-reply", "-in", w("r.tsr"), "-token_out", "-out", w("pkcs1.der"))
        if padding == "pkcs1":
            with open(w("pkcs1.der"), "rb") as f:
                return f.read()
        assert padding == "pss", padding
        # The TSTInfo OpenSSL's TSA made, signed again with RSA-PSS by OpenSSL's CMS.
        openssl("cms", "-verify", "-noverify", "-inform", "DER", "-in", w("pkcs1.der"),
                "-out", w("tstinfo.der"))
        sizes = {"sha256": 32, "sha384": 48, "sha512": 64}
        openssl("cms", "-sign", "-binary", "-nodetach", "-econtent_type", TSTINFO,
                "-in", w("tstinfo.der"), "-signer", self.path("tsa.pem"),
                "-inkey", self.path("tsa.key"), "-md", hash_name,
                "-keyopt", "rsa_padding_mode:pss",
                "-keyopt", f"rsa_pss_saltlen:{salt if salt is not None else sizes[hash_name]}",
                "-keyopt", f"rsa_mgf1_md:{mgf1 or hash_name}",
                "-nosmimecap", "-cades", "-outform", "DER", "-out", w("pss.der"))
        with open(w("pss.der"), "rb") as f:
            return f.read()


def main() -> None:
    out = sys.argv[1]
    tsa = Tsa(os.path.join(out, "tsa"))
    message = b"vouch RSA-PSS timestamp test message\n"
    with open(os.path.join(out, "message.txt"), "wb") as f:
        f.write(message)
    for name in ("tsa-root.pem", "tsa.pem"):
        with open(tsa.path(name), "rb") as src, open(os.path.join(out, name), "wb") as dst:
            dst.write(src.read())
    tokens = {
        "pss-sha256.tst": dict(hash_name="sha256"),
        "pss-sha384.tst": dict(hash_name="sha384"),
        "pss-sha512.tst": dict(hash_name="sha512"),
        "pss-sha256-salt20.tst": dict(hash_name="sha256", salt=20),
        "pss-sha256-mgf1-sha1.tst": dict(hash_name="sha256", mgf1="sha1"),
        "pkcs1-sha256.tst": dict(hash_name="sha256", padding="pkcs1"),
    }
    for name, opts in tokens.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(tsa.timestamp(message, **opts))


if __name__ == "__main__":
    main()
