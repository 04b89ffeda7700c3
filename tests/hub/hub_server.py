#!/usr/bin/python3
"""hub_server.py - a loopback stand-in for the Hugging Face hub, for tests/suite/pull.sh.

    hub_server.py ROOT PORTFILE LOGFILE

Serves every directory ROOT/ORG/NAME as the repo ORG/NAME (files below it, recursively), at one
commit per repo (the sha1 of "ORG/NAME"), in the hub's URL layout as huggingface_hub reads it:

  GET  /api/models/ORG/NAME/revision/REV   {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD|GET /ORG/NAME/resolve/REV/FILE      small files: 200 with ETag (the git blob sha1),
                                           X-Repo-Commit; LFS files (*.safetensors, *.gguf,
                                           tokenizer.json): 302 to /cdn/ORG/NAME/FILE with
                                           X-Linked-Etag (sha256), X-Linked-Size, X-Repo-Commit
  GET  /cdn/ORG/NAME/FILE                  the bytes; honours "Range: bytes=N-" with a 206

REV is "main" or the commit; anything else is 404 RevisionNotFound; an unknown repo is 404
RepoNotFound. Faults, by repo NAME (the test links one checkpoint under several names):
  Drop*       the first GET of each LFS file sends half the bytes and closes the connection
  BadSum*     X-Linked-Etag of LFS files is a wrong sha256
  Gated*      401 unless "Authorization: Bearer hf_test_token"
  Forbidden*  403 with X-Error-Code GatedRepo
  Slow*       LFS bytes in 16 kB pieces, 10 ms apart
  Stall*      LFS GETs send 1000 bytes, then nothing for 20 s
  Huge*       X-Linked-Size of LFS files is 10**15
  Flaky*      the API answers 503 to the first two requests
  NoRange*    ignores Range (200 with the whole file), and drops the first GET like Drop
Each request is appended to LOGFILE as "METHOD PATH range=R auth=A".
"""
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

ROOT, PORTFILE, LOGFILE = sys.argv[1], sys.argv[2], sys.argv[3]
LOCK = threading.Lock()
SEEN = set()        # (repo, file) whose first GET was dropped
COUNTS = {}         # repo -> API requests so far
HASHES = {}         # path -> (sha256, git sha1)


def is_lfs(f):
    return f.endswith((".safetensors", ".gguf")) or os.path.basename(f) == "tokenizer.json"


def hashes(path):
    with LOCK:
        if path in HASHES:
            return HASHES[path]
    data = open(path, "rb").read()
    h = (hashlib.sha256(data).hexdigest(),
         hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
    with LOCK:
        HASHES[path] = h
    return h


def commit_of(repo):
    return hashlib.sha1(repo.encode()).hexdigest()


def files_of(d):
    out = []
    for base, _, names in os.walk(d, followlinks=True):
        for n in names:
            out.append(os.path.relpath(os.path.join(base, n), d))
    return sorted(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def log(self):
        with LOCK, open(LOGFILE, "a") as f:
            f.write("%s %s range=%s auth=%s\n" % (self.command, self.path, self.headers.get("Range", "-"),
                                                  self.headers.get("Authorization", "-")))

    def send(self, code, body=b"", headers=None, head=False):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def error(self, code, ecode, msg, head=False):
        self.send(code, json.dumps({"error": msg}).encode(), {"X-Error-Code": ecode, "X-Error-Message": msg,
                                                              "Content-Type": "application/json"}, head)

    def repo_of(self, parts):
        if len(parts) < 2:
            return None, None
        repo = parts[0] + "/" + parts[1]
        d = os.path.join(ROOT, parts[0], parts[1])
        return (repo, d) if os.path.isdir(d) else (repo, None)

    def auth_fault(self, name, head=False):
        if name.startswith("Gated") and self.headers.get("Authorization") != "Bearer hf_test_token":
            self.error(401, "GatedRepo", "Access to this repo is restricted: you must be authenticated", head)
            return True
        if name.startswith("Forbidden"):
            self.error(403, "GatedRepo", "Access to this repo is restricted and you are not in the authorized list",
                       head)
            return True
        return False

    def do_HEAD(self):
        self.handle_any(head=True)

    def do_GET(self):
        self.handle_any(head=False)

    def handle_any(self, head):
        self.log()
        path = urlsplit(self.path).path
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["api", "models"]:
            return self.api(parts[2:], head)
        if parts and parts[0] == "cdn":
            return self.cdn(parts[1:], head)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(parts, head)
        self.error(404, "EntryNotFound", "no such route", head)

    def api(self, parts, head):
        repo, d = self.repo_of(parts)
        if not d:
            return self.error(404, "RepoNotFound", "Repository not found", head)
        name = parts[1]
        if self.auth_fault(name, head):
            return
        if name.startswith("Flaky"):
            with LOCK:
                COUNTS[repo] = COUNTS.get(repo, 0) + 1
                n = COUNTS[repo]
            if n <= 2:
                return self.send(503, b"busy", head=head)
        rev = "/".join(parts[3:]) if len(parts) > 3 and parts[2] == "revision" else "main"
        if rev not in ("main", commit_of(repo)):
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev, head)
        body = json.dumps({"_id": "x", "id": repo, "modelId": repo, "sha": commit_of(repo),
                           "siblings": [{"rfilename": f} for f in files_of(d)]}).encode()
        self.send(200, body, {"Content-Type": "application/json"}, head)

    def resolve(self, parts, head):
        repo, d = self.repo_of(parts)
        if not d:
            return self.error(404, "RepoNotFound", "Repository not found", head)
        name, rev, f = parts[1], parts[3], "/".join(parts[4:])
        if self.auth_fault(name, head):
            return
        if rev not in ("main", commit_of(repo)):
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev, head)
        p = os.path.join(d, f)
        if not os.path.isfile(p):
            return self.error(404, "EntryNotFound", "Entry not found", head)
        sha256, gsha1 = hashes(p)
        h = {"X-Repo-Commit": commit_of(repo)}
        if is_lfs(f):
            size = os.path.getsize(p)
            if name.startswith("BadSum"):
                sha256 = hashlib.sha256(b"not the file").hexdigest()
            if name.startswith("Huge"):
                size = 10 ** 15
            h.update({"X-Linked-Etag": '"%s"' % sha256, "X-Linked-Size": str(size), "ETag": '"%s"' % sha256,
                      "Location": "http://%s:%d/cdn/%s/%s" % (self.server.server_address[0],
                                                              self.server.server_address[1], repo, f)})
            return self.send(302, b"", h, head)
        h["ETag"] = '"%s"' % gsha1
        data = open(p, "rb").read()
        self.send_response(200)
        for k, v in h.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def cdn(self, parts, head):
        repo, d = self.repo_of(parts)
        if not d:
            return self.error(404, "EntryNotFound", "no such blob", head)
        name, f = parts[1], "/".join(parts[2:])
        p = os.path.join(d, f)
        if not os.path.isfile(p):
            return self.error(404, "EntryNotFound", "no such blob", head)
        data = open(p, "rb").read()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and not name.startswith("NoRange"):
            start = int(rng[6:].split("-")[0])
        if start >= len(data) and start > 0:
            return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)}, head)
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        first = False
        if name.startswith(("Drop", "NoRange")):
            with LOCK:
                first = (repo, f) not in SEEN
                SEEN.add((repo, f))
        try:
            if first:
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if name.startswith("Stall"):
                self.wfile.write(body[:1000])
                self.wfile.flush()
                time.sleep(20)
                return
            if name.startswith("Slow"):
                for i in range(0, len(body), 16384):
                    self.wfile.write(body[i:i + 16384])
                    self.wfile.flush()
                    time.sleep(0.01)
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
