"""Real processes on loopback for integration tests: a mosquitto broker, moat in front
of it, dev certificates made by certs/make-dev-certs.sh, and real clients
(mosquitto_pub/mosquitto_sub, or a raw socket speaking bytes the test spells out).

Every wait polls a condition with a deadline; nothing sleeps blindly."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MOAT_BIN = os.environ.get("MOAT_BIN", os.path.join(REPO, "build", "proxy", "moat"))


CONNACK_PACKET = (0x20, b"\x00\x00")  # 3.1.1 CONNACK, accepted, no session


_PORT_LOCK_DIR = os.path.join(tempfile.gettempdir(), "moat-test-ports")
_ports_held = {}  # port -> lock file descriptor, kept for the life of this process


def free_port():
    """A loopback port nothing listens on, reserved for this test process.

    The kernel may offer one free port to two calls in a row, or to two test processes
    that ctest runs side by side; a listener then fails to bind (a test asking for two
    listeners once got one port twice). An flock on a per-port file, held until this
    process exits, makes the reservation visible to every process that asks here."""
    import fcntl
    os.makedirs(_PORT_LOCK_DIR, exist_ok=True)
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in _ports_held:
            continue
        lock = os.open(os.path.join(_PORT_LOCK_DIR, str(port)), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            continue
        _ports_held[port] = lock
        return port


def wait_until(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sample(text, name, **labels):
    """The sum of the samples of `name` carrying `labels` (and perhaps more, so a label
    added to a metric later does not break the test), or None when there is none."""
    wanted = {f'{k}="{v}"' for k, v in labels.items()}
    total = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        series_name, _, series_labels = series.partition("{")
        # Label values here are enums, names and file paths: none holds '",' or '}'.
        if series_name == name and wanted <= set(series_labels.rstrip("}").split(",")):
            total = (total or 0.0) + float(value)
    return total


def metric(metrics_port, name, **labels):
    """`sample` of `name` on moat's plain metrics endpoint right now; 0 when absent."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return sample(response.read().decode(), name, **labels) or 0.0


def wait_for_metric(metrics_port, name, value, timeout=10.0, **labels):
    """Polls until `metric(...)` reaches `value` (counters only grow); returns what it read,
    which the caller may hold to exactly `value`."""
    seen = []

    def reached():
        seen[:] = [metric(metrics_port, name, **labels)]
        return seen[0] >= value

    try:
        wait_until(reached, timeout, what=f"{name}{labels} >= {value}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last value {seen[0] if seen else None}") from None
    return seen[0]


def audit_lines(path, **fields):
    """The JSON lines of the audit log at `path` holding every field of `fields`."""
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
    return [e for e in lines if all(e.get(k) == v for k, v in fields.items())]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def raise_fd_limit(limit=8192):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))


class Process:
    """A child process whose stderr goes to a file, printed when a test fails."""

    def __init__(self, name, argv, workdir):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=raise_fd_limit)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Certs:
    _cache = None

    @classmethod
    def get(cls):
        if cls._cache is None:
            directory = tempfile.mkdtemp(prefix="moat-certs-")
            subprocess.run(["bash", os.path.join(REPO, "certs", "make-dev-certs.sh"), directory],
                           check=True, stdout=subprocess.DEVNULL)
            cls._cache = directory
        return cls._cache

    @classmethod
    def path(cls, name):
        return os.path.join(cls.get(), name)


# TLS 1.0 and 1.1, which moat must refuse. Debian's OpenSSL withholds them at its default
# security level 2 even when a context's minimum and maximum version name them: such a
# client sends no ClientHello at all, and a refusal test with it passes whatever the
# server does. Security level 0 makes the client really offer them.
LEGACY_TLS_VERSIONS = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
LEGACY_TLS_CIPHERS = "DEFAULT@SECLEVEL=0"


def _legacy_tls_context(protocol, version):
    context = ssl.SSLContext(protocol)
    with warnings.catch_warnings():  # Python deprecates these versions: the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    context.set_ciphers(LEGACY_TLS_CIPHERS)
    return context


def legacy_tls_client(version, cafile):
    context = _legacy_tls_context(ssl.PROTOCOL_TLS_CLIENT, version)
    context.load_verify_locations(cafile)
    return context


def version_negotiated_with_legacy_server(context, version):
    """Handshakes `context` with a loopback server that speaks only `version` (with the dev
    certificates) and returns the version agreed, e.g. "TLSv1": the proof that a client
    really offers an old version before a test counts on moat refusing it."""
    server_context = _legacy_tls_context(ssl.PROTOCOL_TLS_SERVER, version)
    server_context.load_cert_chain(Certs.path("server.crt"), Certs.path("server.key"))
    server_error = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def serve():
            try:
                connection, _ = listener.accept()
                with server_context.wrap_socket(connection, server_side=True):
                    pass
            except (OSError, ssl.SSLError) as e:
                server_error.append(e)

        server = threading.Thread(target=serve)
        server.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as sock:
                with context.wrap_socket(sock, server_hostname="localhost") as tls:
                    return tls.version()
        except (OSError, ssl.SSLError) as e:
            server.join(10)
            raise AssertionError(f"the {version.name}-only server refused the client: {e} "
                                 f"(server side: {server_error})") from None
        finally:
            server.join(10)


class Broker:
    """mosquitto on a free loopback port, optionally with a TLS listener too."""

    def __init__(self, workdir, tls=False, extra_conf=(), port=None):
        self.port = port or free_port()
        self.tls_port = free_port() if tls else None
        conf = os.path.join(workdir, f"mosquitto-{self.port}.conf")
        lines = ["per_listener_settings false", "allow_anonymous true", "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning", "log_type notice",
                 "max_keepalive 65535", "user root", "connection_messages true",
                 *extra_conf, f"listener {self.port} 127.0.0.1"]
        if tls:
            lines += [f"listener {self.tls_port} 127.0.0.1",
                      f"cafile {Certs.path('ca.crt')}",
                      f"certfile {Certs.path('broker.crt')}",
                      f"keyfile {Certs.path('broker.key')}"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        if shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"):
            raise AssertionError("mosquitto is not installed: run deploy/install-deps.sh")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = Process(f"mosquitto-{self.port}", [binary, "-c", conf], workdir)
        wait_until(lambda: port_open(self.port), what="mosquitto to listen")
        if tls:
            wait_until(lambda: port_open(self.tls_port), what="mosquitto TLS to listen")


# Without a policy moat denies every PUBLISH, SUBSCRIBE and Will; tests about the data
# path rather than the policy say so explicitly.
ALLOW_ALL = "policy:\n  allow_all: true\n"


def password_of(user):
    """The password password_file() gives `user`."""
    return f"{user}-pw"


def password_file(workdir, users):
    """A password file made by mosquitto_passwd holding each of `users`, with
    password_of(user), for tests whose clients must be those users: a user name proves
    nothing without one."""
    path = os.path.join(workdir, f"passwd-{free_port()}")
    for i, user in enumerate(users):
        subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if i == 0 else []) +
                       [path, user, password_of(user)], check=True, capture_output=True)
    return path


class Moat:
    """moat with a generated config; `listeners` is a list of YAML snippets; `upstream_port`
    a port, or a list of them for upstream.servers."""

    def __init__(self, workdir, upstream_port, listeners, upstream_tls=None, extra="",
                 auth="auth:\n  allow_anonymous: true\n", upstream_extra="", policy=ALLOW_ALL,
                 wrapper=()):
        # `wrapper`: a command moat runs under, e.g. ("taskset", "-c", "0"); it must exec.
        self.workdir = workdir
        self.config_path = os.path.join(workdir, f"moat-{free_port()}.yaml")
        text = "listeners:\n" + "".join(listeners)
        if isinstance(upstream_port, (list, tuple)):  # several servers: upstream.servers
            text += "upstream:\n  servers:\n" + "".join(
                f'    - "127.0.0.1:{p}"\n' for p in upstream_port)
        else:
            text += f'upstream:\n  address: "127.0.0.1:{upstream_port}"\n'
        if upstream_tls:
            text += upstream_tls
        text += upstream_extra + auth + policy + extra
        with open(self.config_path, "w") as f:
            f.write(text)
        self.process = Process(f"moat-{os.path.basename(self.config_path)}",
                               [*wrapper, MOAT_BIN, "--config", self.config_path], workdir)

    def wait_listening(self, port):
        # moat binds its listeners before its metrics endpoint: a test that reads a metric
        # right after connecting must find that endpoint up too.
        with open(self.config_path) as f:
            metrics = re.search(r'^metrics:\n(?:  .*\n)*?  bind: "127\.0\.0\.1:(\d+)"', f.read(),
                                re.M)
        ports = [port] + ([int(metrics.group(1))] if metrics else [])
        wait_until(lambda: all(port_open(p) for p in ports) or not self.process.alive(),
                   what="moat to listen")
        if not self.process.alive():
            raise AssertionError("moat exited early:\n" + self.process.log())


def plain_listener(port, extra=""):
    return f'  - bind: "127.0.0.1:{port}"\n' + extra


def tls_listener(port, extra=""):
    return (f'  - bind: "127.0.0.1:{port}"\n    tls:\n'
            f'      cert: {Certs.path("server.crt")}\n      key: {Certs.path("server.key")}\n'
            + extra)


class LogsOnFailure(unittest.TestCase):
    """Prints the logs of self.processes when a test fails."""

    log_tail_lines = None  # None: the whole log

    def run(self, result=None):
        # Logs are printed only for a failed test, and only once the test has been
        # judged, which is after its cleanups have stopped the processes.
        result = result if result is not None else self.defaultTestResult()
        problems_before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > problems_before:
                for process in getattr(self, "processes", []):
                    lines = process.log().splitlines()
                    heading = process.name
                    if self.log_tail_lines is not None:
                        lines = lines[-self.log_tail_lines:]
                        heading += f" (last {self.log_tail_lines} lines)"
                    print(f"\n----- {heading} -----\n" + "\n".join(lines))
            self.after_run()

    def after_run(self):
        pass


class ProxyTestCase(LogsOnFailure):
    """Starts a broker and moat per test; prints their logs if the test fails."""

    broker_tls = False

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="moat-it-")
        self.processes = []
        self.addCleanup(self._cleanup)

    def start_broker(self, tls=False, extra_conf=(), port=None):
        broker = Broker(self.workdir, tls=tls, extra_conf=extra_conf, port=port)
        self.processes.append(broker.process)
        return broker

    def start_moat(self, upstream_port, listeners, **kwargs):
        moat = Moat(self.workdir, upstream_port, listeners, **kwargs)
        self.processes.append(moat.process)
        return moat

    def assert_refuses_legacy_tls(self, port):
        """TLS 1.0 and 1.1 clients that really offer those versions (each proved against
        a server that speaks only it) are refused by `port` with a protocol_version alert."""
        for version in LEGACY_TLS_VERSIONS:
            with self.subTest(version=version.name):
                context = legacy_tls_client(version, Certs.path("ca.crt"))
                self.assertEqual(version_negotiated_with_legacy_server(context, version),
                                 version.name.replace("_", "."))
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    with self.assertRaises(ssl.SSLError) as refused:
                        context.wrap_socket(sock, server_hostname="localhost").close()
                self.assertEqual(refused.exception.reason, "TLSV1_ALERT_PROTOCOL_VERSION",
                                 refused.exception)

    def _cleanup(self):
        for process in self.processes:
            process.stop()

    def after_run(self):
        shutil.rmtree(getattr(self, "workdir", ""), ignore_errors=True)


def client_args(port, tls=False, version="mqttv311"):
    args = ["-h", "127.0.0.1" if not tls else "localhost", "-p", str(port), "-V", version]
    if tls:
        args += ["--cafile", Certs.path("ca.crt")]
    return args


def subscribe(port, topic, count, tls=False, version="mqttv311", qos=0, extra=()):
    """Starts mosquitto_sub; returns the Popen. Call collect() for its output."""
    argv = ["mosquitto_sub", *client_args(port, tls, version), "-t", topic, "-C", str(count),
            "-W", "15", "-q", str(qos), "-v", *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def collect(proc, timeout=20):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def publish(port, topic, message=None, tls=False, version="mqttv311", qos=0, extra=(),
            file=None):
    argv = ["mosquitto_pub", *client_args(port, tls, version), "-t", topic, "-q", str(qos),
            *extra]
    argv += ["-f", file] if file else ["-m", message]
    return subprocess.run(argv, capture_output=True, timeout=30)


# Raw MQTT, spelled out byte by byte, for what the real clients cannot do.

def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_string(s):
    data = s.encode() if isinstance(s, str) else s
    return len(data).to_bytes(2, "big") + data


def packet(first_byte, body):
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(client_id, version=4, keep_alive=60, clean=True, will=None, username=None,
                   password=None, properties=b""):
    """version 3 (MQIsdp), 4 or 5. will=(topic, payload, qos, retain). `properties` are
    MQTT 5 CONNECT properties, already encoded (without their length)."""
    name = b"MQIsdp" if version == 3 else b"MQTT"
    flags = 0x02 if clean else 0
    payload = mqtt_string(client_id)
    if will:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        if version == 5:
            payload += b"\x00"
        payload += mqtt_string(topic) + mqtt_string(message)
    if username is not None:
        flags |= 0x80
        payload += mqtt_string(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_string(password)
    body = mqtt_string(name) + bytes([version, flags]) + keep_alive.to_bytes(2, "big")
    if version == 5:
        body += varint(len(properties)) + properties
    return packet(0x10, body + payload)


def publish_packet(topic, payload, qos=0, packet_id=1, version=4, retain=False):
    body = mqtt_string(topic)
    if qos:
        body += packet_id.to_bytes(2, "big")
    if version == 5:
        body += b"\x00"
    return packet(0x30 | (qos << 1) | (1 if retain else 0), body + payload)


class RawClient:
    """A TCP (or TLS) client of moat; `source` picks its loopback address, so tests of
    per-address limits and bans can be several clients."""

    def __init__(self, port, tls=False, timeout=10, source="127.0.0.1"):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                        source_address=(source, 0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            context = ssl.create_default_context(cafile=Certs.path("ca.crt"))
            sock = context.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock

    def send(self, data):
        self.sock.sendall(data)

    def read_exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"closed after {len(data)} of {n} bytes: {data!r}")
            data += chunk
        return data

    def read_packet(self):
        first = self.read_exactly(1)
        length, shift = 0, 0
        while True:
            b = self.read_exactly(1)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return first[0], self.read_exactly(length)

    def closed_by_peer(self, timeout=10):
        """True once the peer has closed (EOF or reset), reading and dropping anything."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(4096):
                pass
            return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def abort(self):
        """Vanish without DISCONNECT or FIN handshake: RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def close(self):
        self.sock.close()


class WebSocketClient(RawClient):
    """A minimal RFC 6455 client: the HTTP upgrade, then masked binary frames. Spelled
    out here because no WebSocket MQTT client ships with Debian's mosquitto-clients."""

    def __init__(self, port, tls=False, path="/mqtt", subprotocol="mqtt", timeout=10,
                 headers=()):
        """`headers`: extra (name, value) pairs, e.g. ("Origin", "https://a.example"); a
        value may be bytes, for what a browser would never send."""
        super().__init__(port, tls=tls, timeout=timeout)
        import base64
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n")
        if subprotocol:
            request += f"Sec-WebSocket-Protocol: {subprotocol}\r\n"
        data = request.encode()
        for name, value in headers:
            data += name.encode() + b": " + (value if isinstance(value, bytes) else
                                              value.encode()) + b"\r\n"
        self.sock.sendall(data + b"\r\n")
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            response += chunk
        head, _, self._payload = response.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        self.headers = {k.strip().lower(): v.strip() for k, _, v in
                        (line.partition(":") for line in lines[1:])}
        self._raw = b""  # frame bytes not yet parsed
        if self.status == 101:
            self._raw, self._payload = self._payload, b""

    def send(self, data, opcode=0x2):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + len(data).to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + len(data).to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _fill(self, n):
        while len(self._raw) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self._raw += chunk

    def _next_frame(self):
        self._fill(2)
        opcode, length = self._raw[0] & 0x0F, self._raw[1] & 0x7F
        offset = 2
        if length == 126:
            self._fill(4)
            length, offset = int.from_bytes(self._raw[2:4], "big"), 4
        elif length == 127:
            self._fill(10)
            length, offset = int.from_bytes(self._raw[2:10], "big"), 10
        self._fill(offset + length)
        payload = self._raw[offset:offset + length]
        self._raw = self._raw[offset + length:]
        return opcode, payload

    def read_exactly(self, n):
        while len(self._payload) < n:
            opcode, payload = self._next_frame()
            if opcode == 0x8:
                raise EOFError("close frame")
            if opcode == 0x9:
                self.send(payload, opcode=0xA)
            elif opcode in (0x0, 0x2):
                self._payload += payload
        data, self._payload = self._payload[:n], self._payload[n:]
        return data

    def closed_by_peer(self, timeout=10):
        self.sock.settimeout(timeout)
        try:
            while True:
                opcode, _ = self._next_frame()
                if opcode == 0x8:
                    return True
        except (EOFError, ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False


# Version-aware raw MQTT (added for the ACL tests). One client speaks 3.1 (version 3),
# 3.1.1 (4) or 5.0 (5), and every read is strict, so a test can hold moat to the exact
# answer: packet type, flags, packet identifier and reason code.

MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP = 0x30, 0x40, 0x50, 0x60, 0x70
MQTT_SUBACK, MQTT_UNSUBACK, MQTT_PINGRESP, MQTT_DISCONNECT = 0x90, 0xB0, 0xD0, 0xE0


def subscribe_packet(packet_id, filters, version=4):
    """filters: (filter, options) pairs; options is the requested QoS, or for 5.0 the
    whole subscription options byte (retain handling in bits 4-5)."""
    body = packet_id.to_bytes(2, "big") + (b"\x00" if version == 5 else b"")
    for topic, options in filters:
        body += mqtt_string(topic) + bytes([options])
    return packet(0x82, body)


def unsubscribe_packet(packet_id, filters, version=4):
    body = packet_id.to_bytes(2, "big") + (b"\x00" if version == 5 else b"")
    for topic in filters:
        body += mqtt_string(topic)
    return packet(0xA2, body)


def read_varint(data, offset):
    value, shift = 0, 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


class Delivery:
    """A PUBLISH as its receiver saw it."""

    def __init__(self, first, body, version):
        self.qos, self.retain, self.dup = (first >> 1) & 3, bool(first & 1), bool(first & 8)
        length = int.from_bytes(body[:2], "big")
        self.topic = body[2:2 + length].decode()
        offset = 2 + length
        self.packet_id = None
        if self.qos:
            self.packet_id = int.from_bytes(body[offset:offset + 2], "big")
            offset += 2
        self.properties = b""
        if version == 5:
            size, offset = read_varint(body, offset)
            self.properties, offset = body[offset:offset + size], offset + size
        self.payload = body[offset:]

    def __repr__(self):
        return (f"PUBLISH(topic={self.topic!r}, payload={self.payload!r}, qos={self.qos}, "
                f"retain={self.retain}, dup={self.dup}, packet_id={self.packet_id})")


class MqttClient(RawClient):
    """A raw client of one protocol version; `connect` are connect_packet's arguments.
    With `interleaved` set, deliveries arriving while it waits for another packet are
    acknowledged and kept for next_publish (a subscriber under live traffic); without
    it, the packet waited for must come next."""

    def __init__(self, port, version, client_id, timeout=5, interleaved=False, tls=None,
                 source="127.0.0.1", **connect):
        super().__init__(port, timeout=timeout, source=source)
        if tls is not None:  # an ssl.SSLContext, e.g. with a client certificate loaded
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.version = version
        self.client_id = client_id
        self.interleaved = interleaved
        self._kept = []
        self._awaiting_pubrel = set()
        self.send(connect_packet(client_id, version=version, **connect))

    def expect(self, kind):
        """The next packet, which must be of type `kind`: (first byte, body)."""
        while True:
            first, body = self._read(kind)
            if first & 0xF0 == kind:
                return first, body
            if first & 0xF0 == MQTT_PUBREL and (self._awaiting_pubrel or self.interleaved):
                self._acknowledge(first, body)  # the end of a QoS 2 delivery, or a stray
            elif first & 0xF0 == MQTT_PUBLISH and self.interleaved:
                self._kept.append(self._acknowledge(first, body))
            else:
                raise AssertionError(f"{self.client_id}: expected packet type {kind:#04x}, "
                                     f"got {first:#04x} {body!r}")

    def _read(self, kind):
        try:
            return self.read_packet()
        except socket.timeout:
            raise AssertionError(f"{self.client_id}: nothing arrived, expected packet "
                                 f"type {kind:#04x}") from None
        except (EOFError, ConnectionResetError) as e:
            raise AssertionError(f"{self.client_id}: connection closed ({e}), expected "
                                 f"packet type {kind:#04x}") from None

    def _reason(self, rest, what):
        """A 5.0 reason code and its property length, checked; 0 when left out."""
        if not rest:
            return 0
        if len(rest) > 1:
            size, end = read_varint(rest, 1)
            if end + size != len(rest):
                raise AssertionError(f"{what}: property length does not add up: {rest!r}")
        return rest[0]

    def connack(self):
        """(session present, return code / reason code) of the CONNACK that must come next."""
        _, body = self.expect(0x20)
        if self.version != 5 and len(body) != 2:
            raise AssertionError(f"CONNACK of {len(body)} bytes before 5.0: {body!r}")
        if self.version == 5:
            size, end = read_varint(body, 2)
            if end + size != len(body):
                raise AssertionError(f"CONNACK property length does not add up: {body!r}")
        return body[0], body[1]

    def ack(self, kind, packet_id):
        """Reads a PUBACK/PUBREC/PUBREL/PUBCOMP that must be next and be for packet_id;
        returns its reason code (0 before 5.0, which has none)."""
        first, body = self.expect(kind)
        if first != kind | (2 if kind == MQTT_PUBREL else 0):
            raise AssertionError(f"bad fixed header {first:#04x} for type {kind:#04x}")
        got = int.from_bytes(body[:2], "big")
        if got != packet_id:
            raise AssertionError(f"{self.client_id}: packet type {kind:#04x} for packet id "
                                 f"{got}, expected {packet_id}: {body!r}")
        if self.version != 5:
            if len(body) != 2:
                raise AssertionError(f"{kind:#04x} of {len(body)} bytes before 5.0: {body!r}")
            return 0
        return self._reason(body[2:], f"packet type {kind:#04x}")

    def subscribe(self, packet_id, filters):
        """Sends a SUBSCRIBE; returns the reason codes of the SUBACK that must come next
        under the same packet identifier."""
        self.send(subscribe_packet(packet_id, filters, self.version))
        first, body = self.expect(MQTT_SUBACK)
        if first != MQTT_SUBACK:
            raise AssertionError(f"bad SUBACK fixed header {first:#04x}")
        got = int.from_bytes(body[:2], "big")
        if got != packet_id:
            raise AssertionError(f"SUBACK for packet id {got}, expected {packet_id}")
        offset = 2
        if self.version == 5:
            size, offset = read_varint(body, 2)
            offset += size
        return list(body[offset:])

    def unsubscribe(self, packet_id, filters):
        self.send(unsubscribe_packet(packet_id, filters, self.version))
        _, body = self.expect(MQTT_UNSUBACK)
        if int.from_bytes(body[:2], "big") != packet_id:
            raise AssertionError(f"UNSUBACK for the wrong packet id: {body!r}")

    def publish(self, topic, payload, qos=0, packet_id=1, retain=False):
        self.send(publish_packet(topic, payload, qos=qos, packet_id=packet_id,
                                 version=self.version, retain=retain))

    def publish_flow(self, topic, payload, qos=0, packet_id=1, retain=False):
        """Publishes and completes the QoS flow. Returns the PUBACK/PUBREC reason code
        (0 before 5.0), or None for QoS 0."""
        self.publish(topic, payload, qos, packet_id, retain)
        if qos == 0:
            return None
        if qos == 1:
            return self.ack(MQTT_PUBACK, packet_id)
        code = self.ack(MQTT_PUBREC, packet_id)
        if code < 0x80:
            self.send(packet(0x62, packet_id.to_bytes(2, "big")))
            pubcomp = self.ack(MQTT_PUBCOMP, packet_id)
            if pubcomp != 0:
                raise AssertionError(f"PUBCOMP with reason {pubcomp:#04x}")
        return code

    def _acknowledge(self, first, body):
        """Answers a PUBLISH or PUBREL as a client would; the Delivery, or None for a
        PUBREL, which must be for a QoS 2 delivery this client PUBREC'd."""
        if first == 0x62:
            packet_id = int.from_bytes(body[:2], "big")
            if packet_id not in self._awaiting_pubrel:
                raise AssertionError(f"{self.client_id}: PUBREL for packet id {packet_id}, "
                                     f"which it never PUBREC'd: {body!r}")
            self._awaiting_pubrel.discard(packet_id)
            self.send(packet(0x70, packet_id.to_bytes(2, "big")))
            return None
        if first & 0xF0 != MQTT_PUBLISH:
            raise AssertionError(f"{self.client_id}: expected PUBLISH, got {first:#04x} "
                                 f"{body!r}")
        delivery = Delivery(first, body, self.version)
        if delivery.qos == 1:
            self.send(packet(0x40, delivery.packet_id.to_bytes(2, "big")))
        elif delivery.qos == 2:
            self.send(packet(0x50, delivery.packet_id.to_bytes(2, "big")))
            self._awaiting_pubrel.add(delivery.packet_id)
        return delivery

    def next_publish(self):
        """The next PUBLISH, acknowledged as a client would; PUBRELs on the way are
        answered."""
        while True:
            kept = [d for d in self._kept if d is not None]
            if kept:
                self._kept = kept[1:]
                return kept[0]
            self._kept = []
            try:
                delivery = self._acknowledge(*self.read_packet())
            except socket.timeout:
                raise AssertionError(f"{self.client_id}: no PUBLISH arrived") from None
            except (EOFError, ConnectionResetError) as e:
                raise AssertionError(f"{self.client_id}: connection closed ({e}) while "
                                     "waiting for a PUBLISH") from None
            if delivery is not None:
                return delivery

    def publishes_until(self, payload):
        """Every PUBLISH before the one carrying `payload` (a marker sent after whatever
        must not arrive): proves absence without sleeping."""
        seen = []
        while True:
            try:
                delivery = self.next_publish()
            except AssertionError as e:
                raise AssertionError(f"marker {payload!r} never arrived ({e}); before it: "
                                     f"{seen}") from None
            if delivery.payload == payload:
                return seen
            seen.append(delivery)

    def ping(self):
        """A PINGREQ whose PINGRESP must come next: the connection is alive and nothing
        else was waiting in it."""
        self.send(b"\xc0\x00")
        first, body = self.expect(MQTT_PINGRESP)
        if (first, body) != (0xD0, b""):
            raise AssertionError(f"bad PINGRESP {first:#04x} {body!r}")

    def disconnect(self):
        self.send(b"\xe0\x00")
        self.close()


def publish_through(client, broker_port, topic, payload, client_id):
    """Connects `client` (a RawClient, or any stream of it such as a WebSocketClient) as
    3.1.1 client `client_id` and publishes `payload` to `topic`; returns what a watcher
    subscribed at the broker received: the proof that an honest client got through."""
    seen = watcher(broker_port, topic, client_id=f"watch-{client_id}")
    client.send(connect_packet(client_id))
    answer = client.read_packet()
    if answer != CONNACK_PACKET:
        raise AssertionError(f"{client_id}: CONNECT answered {answer!r}")
    client.send(publish_packet(topic, payload))
    delivery = seen.next_publish()
    seen.close()
    return delivery


def watcher(port, topic_filter, client_id="watcher"):
    """A raw 3.1.1 client subscribed to `topic_filter` at `port` (usually the broker itself),
    returned once its SUBACK has come back: the broker holds the subscription, so whatever
    is published from then on reaches it (mosquitto_sub gives no such signal). Read with
    next_publish()."""
    client = MqttClient(port, 4, client_id, timeout=10)
    if client.connack() != (0, 0):
        raise AssertionError(f"{client_id}: the broker refused the connection")
    granted = client.subscribe(1, [(topic_filter, 0)])
    if granted != [0]:
        raise AssertionError(f"{client_id}: SUBSCRIBE {topic_filter!r} answered {granted}")
    return client
