"""Real PROXY protocol peers for the tests of upstream.proxy_protocol: HAProxy (as a
receiver with accept-proxy, or as a sender with send-proxy-v2-ssl-cn), a recorder that
keeps the first bytes of each connection it accepts, and moat's own header parser
(proxy_header_dump) reading what was recorded."""

import json
import os
import shutil
import socket
import subprocess
import threading

from harness import REPO, Process, free_port, port_open, wait_until

HEADER_DUMP = os.environ.get(
    "MOAT_PROXY_HEADER_DUMP",
    os.path.join(REPO, "build", "tests", "proxy_protocol", "proxy_header_dump"))


class HAProxy:
    """haproxy -db with `sections` (frontends, backends) after a global section that logs
    to its stdout, which Process keeps in a file: `log_lines()` reads it."""

    def __init__(self, workdir, sections, ports):
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.path.exists(binary):
            raise AssertionError("haproxy is not installed: run deploy/install-deps.sh")
        self.config_path = os.path.join(workdir, f"haproxy-{ports[0]}.cfg")
        with open(self.config_path, "w") as f:
            f.write("global\n  log stdout format raw local0 info\n"
                    "defaults\n  mode tcp\n  log global\n  option logasap\n"
                    "  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
                    + sections)
        self.process = Process(f"haproxy-{ports[0]}", [binary, "-db", "-f", self.config_path],
                               workdir)
        wait_until(lambda: all(port_open(p) for p in ports) or not self.process.alive(),
                   what="haproxy to listen")
        if not self.process.alive():
            raise AssertionError("haproxy exited early:\n" + self.process.log())

    def log_lines(self):
        return self.process.log().splitlines()


def whole_connect_arrived(data):
    """True once `data` holds, after whatever header opens it, a whole MQTT CONNECT of
    under 128 bytes (one byte of remaining length: the tests' CONNECTs)."""
    name = data.find(b"\x00\x04MQTT")
    return name >= 2 and data[name - 2] == 0x10 and len(data) >= name + data[name - 1]


class Recorder:
    """Accepts connections on a free loopback port and keeps, per connection, the bytes
    received until the client's CONNECT has come whole (or the peer closed, or 10 s
    passed); then closes it. `connections` fills in the order they end."""

    def __init__(self):
        self.port = free_port()
        self.connections = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stopped:
            try:
                connection, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._record, args=(connection,), daemon=True).start()

    def _record(self, connection):
        data = b""
        connection.settimeout(10)
        try:
            while not whole_connect_arrived(data):
                chunk = connection.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        connection.close()
        self.connections.append(data)

    def wait_for(self, count):
        wait_until(lambda: len(self.connections) >= count, what=f"{count} recorded connections")
        return self.connections[:count]

    def stop(self):
        self._stopped = True
        self._thread.join(5)
        self._listener.close()


def parse_header(workdir, data):
    """What moat's parser reads from `data` (a dict, see proxy_header_dump.cc)."""
    path = os.path.join(workdir, f"header-{free_port()}.bin")
    with open(path, "wb") as f:
        f.write(data)
    result = subprocess.run([HEADER_DUMP, path], capture_output=True, text=True, timeout=10)
    parsed = json.loads(result.stdout)
    if result.returncode != 0:
        raise AssertionError(f"moat's parser refused the header: {parsed} in {data!r}")
    return parsed
