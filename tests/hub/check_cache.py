#!/usr/bin/python3
"""check_cache.py - checks a Hugging Face cache repo folder the way huggingface_hub lays it out
(file_download.py), independently of our C code:

    check_cache.py REPO_DIR SOURCE_DIR REVISION [FILE...]

- refs/REVISION holds a 40-hex commit, and snapshots/COMMIT exists;
- each FILE (default: every file of SOURCE_DIR) is in snapshots/COMMIT as a *relative* symlink to
  ../../blobs/ETAG (one more ../ per directory level), the blob holds the same bytes as SOURCE_DIR/FILE,
  and ETAG is the sha256 of the bytes (LFS files) or the git blob sha1 (others);
- no *.incomplete file is left in blobs/.
Prints "ok N files" or the first fault, exit status 1 on a fault."""
import hashlib
import os
import sys

repo, src, rev = sys.argv[1:4]
files = sys.argv[4:]
if not files:
    files = sorted(os.path.relpath(os.path.join(b, n), src) for b, _, ns in os.walk(src) for n in ns)


def fail(msg):
    print("fault: " + msg)
    sys.exit(1)


ref = os.path.join(repo, "refs", rev)
if not os.path.isfile(ref):
    fail("no " + ref)
commit = open(ref).read().strip()
if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
    fail("refs/%s holds %r, not a commit" % (rev, commit))
snap = os.path.join(repo, "snapshots", commit)
if not os.path.isdir(snap):
    fail("no " + snap)
for f in files:
    p = os.path.join(snap, f)
    if not os.path.islink(p):
        fail(f + ": not a symlink")
    t = os.readlink(p)
    if os.path.isabs(t):
        fail(f + ": absolute link " + t)
    want_prefix = "../" * (2 + f.count("/")) + "blobs/"
    if not t.startswith(want_prefix):
        fail("%s: links to %s, expected %sETAG" % (f, t, want_prefix))
    etag = t[len(want_prefix):]
    data = open(p, "rb").read()
    if data != open(os.path.join(src, f), "rb").read():
        fail(f + ": bytes differ from the source")
    sha256 = hashlib.sha256(data).hexdigest()
    gsha1 = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    if etag not in (sha256, gsha1):
        fail("%s: blob name %s is neither its sha256 nor its git sha1" % (f, etag))
left = [n for n in os.listdir(os.path.join(repo, "blobs")) if n.endswith(".incomplete")]
if left:
    fail("left over: " + ", ".join(left))
print("ok %d files" % len(files))
