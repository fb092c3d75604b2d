#!/usr/bin/python3
"""docker-py (Debian's python3-docker) against ctr-run serve: 95-serve.py SOCKET."""
import sys

import docker

client = docker.DockerClient(base_url="unix://" + sys.argv[1], version="auto")
assert any("busybox:latest" in i.tags for i in client.images.list()), client.images.list()

c = client.containers.create("busybox", ["sh", "-c", "echo hello; echo oops >&2; exit 3"],
                             network_mode="none", name="py-once")
c.start()
assert c.wait()["StatusCode"] == 3
logs = c.logs()
assert b"hello\n" in logs and b"oops\n" in logs, logs
c.remove()

d = client.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none", name="py-bg")
code, out = d.exec_run(["sh", "-c", "echo from-exec; exit 2"])
assert (code, out) == (2, b"from-exec\n"), (code, out)
d.reload()
assert d.status == "running", d.status
assert [x.name for x in client.containers.list()] == ["py-bg"]
d.remove(force=True)

out = client.containers.run("busybox", ["echo", "run"], network_mode="none", remove=True)
assert out == b"run\n", out

try:
    client.containers.get("py-bg")
    raise AssertionError("py-bg still there")
except docker.errors.NotFound:
    pass
print("ok")
