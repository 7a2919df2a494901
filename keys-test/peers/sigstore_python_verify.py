#!/usr/bin/env python3
"""sigstore-python as a sigstore-conformance client, offline. Not vouch code:
tests/e2e/wild_peers.rs compares its verdicts with vouch's.

    python sigstore_python_verify.py verify-bundle --bundle FILE
        (--certificate-identity ID --certificate-oidc-issuer URL | --key PUB)
        --trusted-root FILE  FILE_OR_sha256:DIGEST

What sigstore-python's own conformance wrapper (test/integration/sigstore-python-conformance)
does: the trusted root is wrapped in a client trust config (with a signing config that is never
used) and the command becomes `sigstore verify identity --offline --trust-config TC
--cert-identity ID --cert-oidc-issuer URL --bundle FILE FILE_OR_DIGEST`, run here in this process
(sigstore._cli.main) with every socket connection refused, so nothing can reach a network.

`python sigstore_python_verify.py batch` runs many such verifications in one interpreter
(see batch() below).

Exit 0: verified; 1: rejected (the reason on stderr); 2: the driver was misused; 3: sigstore-python
cannot judge this: it has no verification with a public key (--key; its conformance run expects
the managed-key cases to fail, sigstore-python issue #1244), no identity or issuer patterns
(--certificate-identity-regexp, --certificate-oidc-issuer-regexp), and no digest but sha256 (the
conformance protocol's sha256:DIGEST; a sha512:DIGEST is not judged).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
import socket
import sys
import tempfile
import traceback
from pathlib import Path

# The signing config is not used by verification: it is here only so that the trust config
# is complete (as in sigstore-python's conformance wrapper).
SIGNING_CONFIG = {
    "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
    "caUrls": [
        {
            "url": "https://fulcio.example.com",
            "majorApiVersion": 1,
            "operator": "",
            "validFor": {"start": "1970-01-01T01:01:01Z"},
        }
    ],
    "oidcUrls": [],
    "rekorTlogUrls": [
        {
            "url": "https://rekor.example.com",
            "majorApiVersion": 1,
            "operator": "",
            "validFor": {"start": "1970-01-01T01:01:01Z"},
        }
    ],
    "tsaUrls": [],
    "rekorTlogConfig": {"selector": "ANY"},
    "tsaConfig": {"selector": "ANY"},
}


class _Usage(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"sigstore_python_verify: {message}", file=sys.stderr)
        sys.exit(2)


class _Errors(logging.Handler):
    """Collects what sigstore logs as errors, so that the reason can close stderr on one line."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        for line in record.getMessage().splitlines():
            line = line.strip()
            if line and "--verbose" not in line and not line.startswith("FAIL: "):
                self.messages.append(line)


def _no_network(*_args: object, **_kwargs: object) -> None:
    raise OSError("network access disabled: this verification is offline")


def _parser() -> _Usage:
    parser = _Usage(prog="sigstore_python_verify.py")
    parser.add_argument("command", choices=["verify-bundle"])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--certificate-identity")
    parser.add_argument("--certificate-identity-regexp")
    parser.add_argument("--certificate-oidc-issuer")
    parser.add_argument("--certificate-oidc-issuer-regexp")
    parser.add_argument("--key")
    parser.add_argument("--trusted-root")
    parser.add_argument("file_or_digest")
    return parser


def _offline() -> None:
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    socket.socket.connect_ex = _no_network  # type: ignore[method-assign]
    socket.create_connection = _no_network  # type: ignore[assignment]
    socket.getaddrinfo = _no_network  # type: ignore[assignment]


_ERRORS = _Errors()


def _sigstore_main():  # type: ignore[no-untyped-def]
    from sigstore._cli import main as sigstore_main

    # sigstore's own log handler (rich, padded to the terminal's width) is replaced by one that
    # gathers its errors for the one-line reason.
    logging.getLogger().handlers.clear()
    sigstore_logger = logging.getLogger("sigstore")
    if _ERRORS not in sigstore_logger.handlers:
        sigstore_logger.addHandler(_ERRORS)
    return sigstore_main


def verify(argv: list[str]) -> int:
    """One verify-bundle; its exit code (0, 1, 2 or 3), its messages on sys.stderr."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2

    if args.trusted_root is None:
        print("sigstore_python_verify: --trusted-root is required (offline, no TUF)", file=sys.stderr)
        return 2
    if args.key is not None:
        print("unsupported: sigstore-python cannot verify with a public key", file=sys.stderr)
        return 3
    if args.certificate_identity_regexp or args.certificate_oidc_issuer_regexp:
        print("unsupported: sigstore-python matches identity and issuer exactly", file=sys.stderr)
        return 3
    digest = re.fullmatch(r"([a-z0-9]+):[0-9a-fA-F]+", args.file_or_digest)
    if digest and digest.group(1) != "sha256" and not Path(args.file_or_digest).is_file():
        print("unsupported: sigstore-python verifies sha256 digests only", file=sys.stderr)
        return 3
    if args.certificate_identity is None or args.certificate_oidc_issuer is None:
        print(
            "sigstore_python_verify: --certificate-identity and --certificate-oidc-issuer "
            "are required",
            file=sys.stderr,
        )
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        try:
            trusted_root = json.loads(Path(args.trusted_root).read_text())
        except (OSError, ValueError) as e:
            print(f"FAIL: unreadable trusted root: {e}", file=sys.stderr)
            return 1
        trust_config = {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": trusted_root,
            "signingConfig": SIGNING_CONFIG,
        }
        config_path = Path(tmp) / "trust_config.json"
        config_path.write_text(json.dumps(trust_config))
        sigstore_argv = [
            "--trust-config",
            str(config_path),
            "verify",
            "identity",
            "--offline",
            "--cert-identity",
            args.certificate_identity,
            "--cert-oidc-issuer",
            args.certificate_oidc_issuer,
            "--bundle",
            args.bundle,
            args.file_or_digest,
        ]
        sigstore_main = _sigstore_main()
        _ERRORS.messages.clear()
        try:
            sigstore_main(sigstore_argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if code != 0:
                reason = " / ".join(_ERRORS.messages) or f"sigstore exited {code}"
                print(f"FAIL: {reason}", file=sys.stderr)
                return 1
        except Exception as e:  # noqa: BLE001 -- any error is a rejection, with its reason
            traceback.print_exc(limit=3, file=sys.stderr)
            reason = " / ".join(x.strip() for x in str(e).splitlines() if x.strip())
            print(f"FAIL: {type(e).__name__}: {reason}", file=sys.stderr)
            return 1
    return 0


def batch() -> int:
    """`batch`: one JSON array of verify-bundle arguments a line on stdin; for each, one line
    `{"exit": N, "stderr": "..."}` on stdout, as if the driver had been run with them (one
    interpreter for many cases: the test runs every case through the peers)."""
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        err = io.StringIO()
        # What sigstore prints on stdout (a DSSE bundle's statement) is not part of the answer.
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = verify(json.loads(line))
            except Exception as e:  # noqa: BLE001 -- reported as the driver's failure
                traceback.print_exc(file=sys.stderr)
                print(f"sigstore_python_verify: {type(e).__name__}: {e}", file=sys.stderr)
                code = 2
        print(json.dumps({"exit": code, "stderr": err.getvalue()}), file=out, flush=True)
    return 0


def main() -> int:
    _offline()
    if sys.argv[1:] == ["batch"]:
        return batch()
    return verify(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
