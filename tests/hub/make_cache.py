#!/usr/bin/python3
"""make_cache.py - writes a checkpoint into a Hugging Face cache exactly as huggingface_hub would
(blobs named by sha256 / git sha1, relative snapshot symlinks, refs/main), without our C code, so
the test can check that models downloaded by transformers are found:

    make_cache.py CACHE ORG NAME SOURCE_DIR"""
import hashlib
import os
import sys

cache, org, name, src = sys.argv[1:5]
repo = os.path.join(cache, "models--%s--%s" % (org, name))
commit = hashlib.sha1(("made/" + org + "/" + name).encode()).hexdigest()
os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
snap = os.path.join(repo, "snapshots", commit)
for f in sorted(os.listdir(src)):
    data = open(os.path.join(src, f), "rb").read()
    lfs = f.endswith(".safetensors") or f == "tokenizer.json"
    etag = hashlib.sha256(data).hexdigest() if lfs else hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    open(os.path.join(repo, "blobs", etag), "wb").write(data)
    os.makedirs(snap, exist_ok=True)
    os.symlink(os.path.relpath(os.path.join(repo, "blobs", etag), snap), os.path.join(snap, f))
open(os.path.join(repo, "refs", "main"), "w").write(commit)
