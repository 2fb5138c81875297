# Writes a docker-archive image tarball from a root folder, for `ctr images import` (the lab has no registry).
#   mkimage.py ROOTFS REF OUT ENTRYPOINT_JSON CMD_JSON
import hashlib, io, json, os, sys, tarfile
rootfs, ref, out, ep, cmd = sys.argv[1:6]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for n in sorted(os.listdir(rootfs)): t.add(os.path.join(rootfs, n), arcname=n)
layer = buf.getvalue()
cfg = json.dumps({"architecture": "amd64", "os": "linux",
  "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
             "Entrypoint": json.loads(ep) if ep else None, "Cmd": json.loads(cmd) if cmd else None},
  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
cn = hashlib.sha256(cfg).hexdigest() + ".json"
with tarfile.open(out, "w") as t:
    for n, d in ((cn, cfg), ("layer.tar", layer), ("manifest.json", json.dumps([{"Config": cn, "RepoTags": [ref], "Layers": ["layer.tar"]}]).encode())):
        ti = tarfile.TarInfo(n); ti.size = len(d); t.addfile(ti, io.BytesIO(d))
