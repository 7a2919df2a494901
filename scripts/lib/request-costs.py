#!/usr/bin/env python3
"""What each kind of request `vouch sign` sends costs a registry (a benchmark, asserts nothing):
stores PRELOAD small manifests first (a registry's cost may grow with what it stores), then sends
N requests of each kind, one at a time on one keep-alive connection, and prints the registry's CPU
(user + system, from /proc/PID/stat) and the wall time per request.

    request-costs.py HOST:PORT REGISTRY_PID N PRELOAD
"""

import hashlib
import http.client
import json
import os
import sys
import time

host, pid, n, preload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
repo = "costs/app"
tck = os.sysconf("SC_CLK_TCK")
run = os.urandom(4).hex()
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = {"Accept": f"{MANIFEST}, {INDEX}"}


def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tck


h, p = host.rsplit(":", 1)
conn = http.client.HTTPConnection(h, int(p))


def req(method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def path_of(location):
    return "/" + location.split("/", 3)[3] if location.startswith("http") else location


def blob(b, mount=True):
    """A new blob as vouch stores one on each kind: a mount from the repository (distribution
    2.8 answers 202 with a session, then PUT) or a single POST with the bytes (201)."""
    d = sha(b)
    query = f"mount={d}&from={repo}" if mount else f"digest={d}"
    s, hs = req("POST", f"/v2/{repo}/blobs/uploads/?{query}", body=None if mount else b,
                headers={} if mount else {"Content-Type": "application/octet-stream"})
    if s == 202:
        loc = path_of(hs["location"])
        s, _ = req("PUT", f"{loc}{'&' if '?' in loc else '?'}digest={d}", body=b,
                   headers={"Content-Type": "application/octet-stream"})
    assert s == 201, f"blob upload: {s}"
    return d


empty = blob(b"{}", mount=False)


def manifest(i, kind):
    m = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                               "digest": empty},
                    "layers": [], "annotations": {"n": f"{run} {kind} {i}", "pad": "x" * 600}})
    return m.encode()


def put(ref, body, media_type=MANIFEST):
    s, _ = req("PUT", f"/v2/{repo}/manifests/{ref}", body=body, headers={"Content-Type": media_type})
    assert s == 201, f"manifest PUT: {s}"


stored = []
for i in range(preload):
    m = manifest(i, "preload")
    put(sha(m), m)
    stored.append(sha(m))
if not stored:
    m = manifest(0, "one")
    put(sha(m), m)
    stored.append(sha(m))


def index(i):
    return json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [],
                       "annotations": {"n": f"{run} {i}"}}).encode()


kinds = [
    ("GET /v2/ (no repository)", lambda i: req("GET", "/v2/")),
    ("manifest GET by digest (resolve)",
     lambda i: req("GET", f"/v2/{repo}/manifests/{stored[i % len(stored)]}", headers=ACCEPT)),
    ("manifest GET of an absent tag (404)",
     lambda i: req("GET", f"/v2/{repo}/manifests/absent-{run}-{i}", headers=ACCEPT)),
    ("manifest HEAD by digest",
     lambda i: req("HEAD", f"/v2/{repo}/manifests/{stored[i % len(stored)]}", headers=ACCEPT)),
    ("new blob (2.8: POST 202 + PUT; else POST)",
     lambda i: blob(f"{run} blob {i}".encode(), mount=os.environ.get("SINGLE_POST") != "1")),
    ("manifest PUT by digest (referrer)",
     lambda i: (lambda m: put(sha(m), m))(manifest(i, "digest"))),
    ("index PUT by tag (fallback index)",
     lambda i: put(f"sha256-{run}{i:056d}"[:71], index(i), INDEX)),
]
print(f"{'':44s} {'registry CPU':>14s} {'wall':>12s}   ({n} of each, {len(stored)} manifests stored)")
for name, f in kinds:
    c0, t0 = cpu(), time.time()
    for i in range(n):
        f(i)
    c1, t1 = cpu(), time.time()
    print(f"{name:44s} {1000 * (c1 - c0) / n:9.2f} ms/req {1000 * (t1 - t0) / n:7.2f} ms/req",
          flush=True)
