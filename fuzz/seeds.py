"""Writes the seed inputs of every fuzz target into fuzz/seeds/<target>/
(generated, not committed; bench/fuzz.sh runs this first). Seeds are valid
inputs, so the fuzzer starts from the shapes a real server and client use."""
import base64
import hashlib
import io
import json
import os
import struct
import sys
import zipfile
import zlib

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    folder = os.path.join(here, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def b64(text):
    return base64.b64encode(text.encode()).decode()


# POST /v1/cache bodies.
npm = {
    "manager": "npm",
    "hash": "51226dc22281f47ec255ec23ccaf062499a1c1096085187236fcdf7d04e5146d",
    "files": {"package.json": b64('{"name":"example","version":"1.0.0"}\n'),
              "package-lock.json": b64('{"lockfileVersion":3,"packages":{}}\n')},
    "versions": {"node": "20.20.2", "npm": "11.19.1"},
    "platform": "linux-x64-glibc",
    "options": {"omit_dev": True},
}
composer = {
    "manager": "composer",
    "hash": "0" * 64,
    "files": {"composer.json": b64('{"require":{}}'), "composer.lock": b64('{"packages":[]}')},
    "versions": {"php": "8.2.36", "composer": "2.5.5-rc.1+b1"},
}
put("cache_request", "npm.json", json.dumps(npm).encode())
put("cache_request", "composer.json", json.dumps(composer).encode())

# A tree with a folder, files (stored and deflated) and a .bin link.
files = {
    "a/index.js": (b"module.exports = 1;\n" * 8, 0o644),
    "a/cli.js": (b"#!/usr/bin/env node\nrequire('./index.js');\n", 0o755),
    "b/empty": (b"", 0o644),
}
links = {".bin/a": "../a/cli.js", "b/up": "../a"}
dirs = {".bin": 0o755, "a": 0o755, "b": 0o700}
entries = []
for path, mode in dirs.items():
    entries.append({"type": "dir", "path": path, "mode": mode})
for path, target in links.items():
    entries.append({"type": "symlink", "path": path, "target": target})
for path, (data, mode) in files.items():
    entries.append({"type": "file", "path": path, "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data), "mode": mode, "crc32": zlib.crc32(data),
                    "method": 0, "packed_size": len(data)})
entries.sort(key=lambda e: e["path"].encode())
index = {"format": 1, "key": "ab" * 32, "manager": "npm",
         "versions": {"node": "20.20.2", "npm": "11.19.1"}, "platform": "linux-x64-glibc",
         "root": "node_modules", "created": 1795852800, "entries": entries}
index_json = json.dumps(index).encode()
put("index", "tree.json", index_json)
put("index", "empty.json", json.dumps(dict(index, entries=[])).encode())


def info(name, mode):
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.create_system = 3
    zi.external_attr = mode << 16
    return zi


buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr(info("node_modules/", 0o40755 | 0), b"")
    for e in entries:
        name = "node_modules/" + e["path"]
        if e["type"] == "dir":
            zi = info(name + "/", 0o40000 | e["mode"])
            zi.external_attr |= 0x10
            z.writestr(zi, b"")
        elif e["type"] == "symlink":
            z.writestr(info(name, 0o120777), e["target"].encode())
        else:
            data, mode = files[e["path"]]
            zi = info(name, 0o100000 | mode)
            zi.compress_type = zipfile.ZIP_DEFLATED if len(data) > 100 else zipfile.ZIP_STORED
            z.writestr(zi, data)
put("bundle", "tree.bin", struct.pack("<I", len(index_json)) + index_json + buf.getvalue())

# (bundle size as u64 little-endian, Range header).
for i, (total, spec) in enumerate([(100, "bytes=0-9"), (100, "bytes=90-"), (100, "bytes=-10"),
                                   (2**64 - 1, "bytes=5-"), (0, "bytes=0-0"),
                                   (100, "bytes=0-1,5-6")]):
    put("range", f"seed{i}", struct.pack("<Q", total) + spec.encode())
print("seeds written to", os.path.join(here, "seeds"), file=sys.stderr)
