"""Client compatibility (issue 13, item 3): the clients plants put in front of moat, in
each MQTT version they speak, over TLS and over WebSocket over TLS where they can, to one
real mosquitto behind one moat.

| client                         | versions          | transports |
| mosquitto_pub / mosquitto_sub  | 3.1, 3.1.1, 5.0   | TLS        |
| paho-mqtt (Python, Debian)     | 3.1.1, 5.0        | TLS, WSS   |
| MQTT.js under Node             | 3.1.1, 5.0        | TLS, WSS   |
| MQTT.js in headless Chromium   | 3.1.1, 5.0        | WSS        |

Each client is run by a small driver (clients/) speaking one protocol of JSON lines
(clients/protocol.py), so one scenario below holds every client to the same steps: a
password login; QoS 0, 1 and 2 both ways; a retained message for a later subscriber; a
denied publish that never lands at the broker and is counted; a subscription that is
partly denied, granted while what it may not read is withheld; a Will when the client
vanishes; a persistent session that keeps a QoS 1 message while the client is away.

The user is a dashboard's (`hmi`), with the ACL an HMI would have; each cell of the
matrix has its own topics under plant/ and its own client ids, so a cell sees only what
it sent plus the retained messages earlier cells left."""

import contextlib
import filecmp
import http.server
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

from harness import (Broker, Certs, LogsOnFailure, Moat, MqttClient, free_port, metric,
                     password_file, password_of, tls_listener, wait_for_metric)

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
NODE = os.path.join(CLIENTS, "node")
# deploy/install-deps.sh runs `npm ci` and then copies the lock file here: MQTT.js is
# installed, and it is the version package-lock.json pins.
INSTALLED_LOCK = os.path.join(NODE, "node_modules", ".moat-package-lock.json")

ACL = """\
user hmi
topic readwrite plant/#
topic deny plant/safety/#
"""
USER = "hmi"
TIMEOUT = 15  # seconds for any one command of a driver
SESSION_EXPIRY = 300
SHORT_NAMES = {"mosquitto": "mosq", "paho": "paho", "mqttjs-node": "node",
               "mqttjs-chromium": "web"}


class Driver:
    """A driver program: commands on stdin, answers on stdout (clients/protocol.py)."""

    def __init__(self, name, argv, workdir):
        self.name = name
        self.transcript = []
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, text=True, cwd=CLIENTS)
        self.answers = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def send(self, command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def call(self, command):
        self.transcript.append(f"> {json.dumps(command)}")
        try:
            self.send(command)
            line = self.answers.get(timeout=TIMEOUT + command.get("timeout", 0) + 5)
        except BrokenPipeError:
            line = None
        except queue.Empty:
            line = json.dumps({"ok": False, "error": "the driver did not answer"})
        if line is None:
            line = json.dumps({"ok": False, "error": f"the driver exited ({self.proc.poll()})"})
        self.transcript.append(f"< {line.strip()}")
        return json.loads(line)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return "\n".join(self.transcript) + "\n--- stderr ---\n" + f.read()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class PageServer(http.server.ThreadingHTTPServer):
    """Serves the browser page and its scripts on loopback, hands the page one command at
    a time at /command and takes its answers at /result."""

    daemon_threads = True
    FILES = {"/": ("browser.html", "text/html"),
             "/session.js": ("session.js", "text/javascript"),
             "/mqtt.min.js": ("node_modules/mqtt/dist/mqtt.min.js", "text/javascript")}

    def __init__(self, port):
        self.commands, self.answers = queue.Queue(), queue.Queue()
        super().__init__(("127.0.0.1", port), PageHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/command":
            self.reply(json.dumps(self.server.commands.get()).encode(), "application/json")
        elif self.path in PageServer.FILES:
            name, kind = PageServer.FILES[self.path]
            with open(os.path.join(NODE, name), "rb") as f:
                self.reply(f.read(), kind)
        else:
            self.send_error(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.answers.put(body.decode())
        self.reply(b"", "text/plain")

    def reply(self, body, kind):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class BrowserDriver(Driver):
    """Headless Chromium running clients/node/browser.html, the same commands over HTTP."""

    def __init__(self, server, workdir):
        self.name = "chromium"
        self.transcript = []
        self.server = server
        self.log_path = os.path.join(workdir, "chromium.log")
        home = os.path.join(workdir, "chromium-home")
        # Chromium trusts what the user's NSS database trusts: the test CA goes there, as
        # a plant would install its CA, and the browser checks moat's certificate for real.
        nssdb = f"sql:{home}/.pki/nssdb"
        os.makedirs(os.path.join(home, ".pki", "nssdb"))
        for args in (["-N", "--empty-password"],
                     ["-A", "-t", "C,,", "-n", "moat test CA", "-i", Certs.path("ca.crt")]):
            subprocess.run(["certutil", "-d", nssdb, *args], check=True, capture_output=True)
        argv = ["chromium", "--headless", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                f"--user-data-dir={os.path.join(home, 'profile')}",
                # Containers get 64 MiB of /dev/shm by default, where Chromium's renderers
                # can run out and crash; /tmp has room.
                "--disable-dev-shm-usage",
                f"http://127.0.0.1:{server.server_address[1]}/"]
        if os.geteuid() == 0:
            # Chromium refuses to run as root with its sandbox (CI containers run as
            # root); the page is ours and talks only to loopback.
            argv.insert(1, "--no-sandbox")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env={**os.environ, "HOME": home},
                                         start_new_session=True)
        self.answers = server.answers

    def send(self, command):
        self.server.commands.put(command)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # its renderers, in the group it leads
        self.proc.wait()


class Cell:
    """One client in one version over one transport, walked through the scenario."""

    def __init__(self, test, driver, client, version, transport):
        self.test, self.driver = test, driver
        self.client, self.version, self.transport = client, version, transport
        key = f"{client}-{version}-{transport}"
        self.base = f"plant/{key}"
        self.safety = f"plant/safety/{key}"
        # 3.1 allows client ids of at most 23 bytes.
        self.id_prefix = f"{SHORT_NAMES[client]}{version.replace('.', '')}{transport[0]}"

    @contextlib.contextmanager
    def step(self, name):
        try:
            yield
        except AssertionError as e:
            raise AssertionError(f"{self.client}, MQTT {self.version} over {self.transport}, "
                                 f"step {name!r}: {e}") from None

    def do(self, op, name, **args):
        """`name` is the connection's within this cell; to the driver, which outlives a
        failed cell, it is the client id, unique across cells."""
        answer = self.driver.call({"op": op, "name": f"{self.id_prefix}-{name}", **args})
        if not answer.get("ok"):
            raise AssertionError(f"{op} {name}: {answer}")
        return answer

    def connect(self, name, clean=True, will=None):
        port = self.test.ports[self.transport]
        return self.do("connect", name, host="localhost", port=port,
                       transport=self.transport, path="/mqtt", ca=Certs.path("ca.crt"),
                       version=self.version, client_id=f"{self.id_prefix}-{name}",
                       username=USER, password=password_of(USER), clean=clean,
                       session_expiry=0 if clean else SESSION_EXPIRY, will=will)

    def subscribe(self, name, topic_filter, qos, granted):
        answer = self.do("subscribe", name, filters=[[topic_filter, qos]])
        self.test.assertEqual(answer["granted"], [granted], f"SUBACK for {topic_filter}")

    def publish(self, name, topic, payload, qos, retain=False):
        return self.do("publish", name, topic=topic, payload=payload, qos=qos,
                       retain=retain)["reason"]

    def receive(self, name, topics):
        return self.do("receive", name, topics=topics, timeout=TIMEOUT)["messages"]

    def run(self):
        for step in (self.login, self.qos_levels, self.retained, self.denied_publish,
                     self.partly_denied_subscription, self.will, self.persistent_session):
            with self.step(step.__name__):
                step()
        for name in ("sub", "pub"):
            self.do("disconnect", name)

    def login(self):
        # moat admits no anonymous client here: every step after this one proves the
        # password login too.
        self.connect("sub")
        self.subscribe("sub", f"{self.base}/live/#", 2, granted=2)
        self.connect("pub")

    def qos_levels(self):
        topics = [f"{self.base}/live/qos{qos}" for qos in range(3)]
        for qos, topic in enumerate(topics):
            reason = self.publish("pub", topic, f"at QoS {qos}", qos)
            self.test.assertTrue(reason is None or reason < 0x80, f"QoS {qos} reason {reason}")
        got = sorted((m["topic"], m["payload"], m["qos"]) for m in self.receive("sub", topics))
        self.test.assertEqual(got, [(t, f"at QoS {q}", q) for q, t in enumerate(topics)])

    def retained(self):
        topic = f"{self.base}/retained"
        self.publish("pub", topic, "kept", 1, retain=True)
        self.connect("late")
        self.subscribe("late", topic, 1, granted=1)
        got = [(m["topic"], m["payload"], m["retain"]) for m in self.receive("late", [topic])]
        self.test.assertEqual(got, [(topic, "kept", True)])
        self.do("disconnect", "late")

    def denied_publish(self):
        marker = f"{self.base}/marker"
        watcher = self.test.direct("watch")
        self.test.assertEqual(watcher.subscribe(1, [(f"{self.safety}/#", 0), (marker, 0)]),
                              [0, 0])
        denied = metric(self.test.metrics_port, "moat_denials_total", action="publish")
        reason = self.publish("pub", f"{self.safety}/valve", "open", 1)
        if self.version == "5" and reason is not None:
            self.test.assertEqual(reason, 0x87, "PUBACK reason of the denied publish")
        self.publish("pub", marker, "marker", 1)
        self.test.assertEqual(watcher.publishes_until(b"marker"), [],
                              "what landed at the broker before the marker")
        watcher.disconnect()
        self.test.assertEqual(wait_for_metric(self.test.metrics_port, "moat_denials_total",
                                              denied + 1, action="publish"), denied + 1)

    def partly_denied_subscription(self):
        # plant/# is granted although plant/safety/# is denied: the safety messages,
        # retained or live, are withheld at delivery and counted, the rest arrives.
        port = self.test.metrics_port
        withheld = metric(port, "moat_denials_total", action="deliver")
        partial = metric(port, "moat_partial_subscriptions_total")
        broker = self.test.direct("safety")
        broker.publish_flow(f"{self.safety}/alarm", b"retained alarm", qos=1, retain=True)
        self.connect("hmi")
        self.subscribe("hmi", "plant/#", 1, granted=1)
        broker.publish_flow(f"{self.safety}/alarm", b"live alarm", qos=1)
        state = f"{self.base}/line1/state"
        broker.publish_flow(state, b"running", qos=1)
        got = self.receive("hmi", [state])
        self.test.assertEqual([m for m in got if m["topic"].startswith("plant/safety/")], [],
                              "safety messages delivered")
        self.test.assertIn((state, "running"), [(m["topic"], m["payload"]) for m in got])
        # Later cells' plant/# would see this retained alarm too. Clearing it is a
        # delivery to hmi as well, withheld: hmi is still there, so that it is counted
        # for certain and not only when the broker has yet to see hmi go.
        broker.publish_flow(f"{self.safety}/alarm", b"", qos=1, retain=True)
        broker.disconnect()
        self.test.assertEqual(wait_for_metric(port, "moat_denials_total", withheld + 3,
                                              action="deliver"), withheld + 3)
        self.do("disconnect", "hmi")
        self.test.assertEqual(wait_for_metric(port, "moat_partial_subscriptions_total",
                                              partial + 1), partial + 1)

    def will(self):
        topic = f"{self.base}/live/will"
        self.connect("will", will={"topic": topic, "payload": "gone", "qos": 1,
                                   "retain": False})
        # mosquitto_sub holds a connection only while subscribed.
        self.subscribe("will", f"{self.base}/will-holder", 0, granted=0)
        self.do("drop", "will")
        got = [(m["topic"], m["payload"]) for m in self.receive("sub", [topic])]
        self.test.assertEqual(got, [(topic, "gone")])

    def persistent_session(self):
        topic = f"{self.base}/durable"
        self.connect("durable", clean=False)
        self.subscribe("durable", topic, 1, granted=1)
        self.do("disconnect", "durable")
        self.publish("pub", topic, "while away", 1)
        present = self.connect("durable", clean=False)["session_present"]
        self.test.assertIn(present, (True, None), "session present")
        # The message is not retained: only the session kept it. Subscribing again is
        # what makes mosquitto_sub connect; for the others it changes nothing.
        self.subscribe("durable", topic, 1, granted=1)
        got = [(m["topic"], m["payload"], m["qos"]) for m in self.receive("durable", [topic])]
        self.test.assertEqual(got, [(topic, "while away", 1)])
        self.do("disconnect", "durable")


class ClientMatrix(LogsOnFailure):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="moat-clients-")
        cls.processes = []
        # Class cleanups run when setUpClass fails half-way too.
        cls.addClassCleanup(shutil.rmtree, cls.workdir, ignore_errors=True)
        cls.addClassCleanup(cls.stop_processes)
        cls.broker = Broker(cls.workdir)
        cls.processes.append(cls.broker.process)
        acl = os.path.join(cls.workdir, "acl")
        with open(acl, "w") as f:
            f.write(ACL)
        cls.ports = {"tls": free_port(), "wss": free_port()}
        cls.page_port, cls.metrics_port = free_port(), free_port()
        # The browser sends its page's origin. paho 1.6 sends the address it connects to
        # as its Origin; MQTT.js under Node sends none.
        origins = (f'    websocket_origins: ["http://127.0.0.1:{cls.page_port}", '
                   f'"https://localhost:{cls.ports["wss"]}"]\n')
        moat = Moat(cls.workdir, cls.broker.port, [
            tls_listener(cls.ports["tls"], "    name: tls\n"),
            tls_listener(cls.ports["wss"], "    name: wss\n    protocol: websocket\n" + origins),
        ], auth=(f"auth:\n  allow_anonymous: false\n"
                 f"  password_file: {password_file(cls.workdir, [USER])}\n"),
            policy=f"policy:\n  acl_file: {acl}\n",
            extra=f'metrics:\n  bind: "127.0.0.1:{cls.metrics_port}"\n')
        cls.processes.append(moat.process)
        for port in (*cls.ports.values(), cls.metrics_port):
            moat.wait_listening(port)

    @classmethod
    def stop_processes(cls):
        for process in cls.processes:
            process.stop()

    def setUp(self):
        self.processes = list(self.processes)  # the class's, and this test's drivers
        self._ids = iter(range(1, 1 << 30))

    def direct(self, name):
        """A 5.0 client of the broker itself, behind moat's back."""
        client = MqttClient(self.broker.port, 5, f"direct-{name}-{next(self._ids)}", timeout=10)
        self.addCleanup(client.close)
        self.assertEqual(client.connack()[1], 0)
        return client

    def start_driver(self, driver):
        self.processes.append(driver)
        self.addCleanup(driver.close)
        return driver

    def run_cells(self, driver, client, versions, transports):
        for version in versions:
            for transport in transports:
                with self.subTest(client=client, version=version, transport=transport):
                    Cell(self, driver, client, version, transport).run()

    def assert_installed(self, *programs):
        for program in programs:
            if shutil.which(program) is None:
                self.fail(f"{program} is not installed: run deploy/install-deps.sh")

    def assert_mqttjs_installed(self):
        self.assert_installed("node")
        if not (os.path.exists(INSTALLED_LOCK) and
                filecmp.cmp(INSTALLED_LOCK, os.path.join(NODE, "package-lock.json"),
                            shallow=False)):
            self.fail("MQTT.js is missing or not the pinned version: run deploy/install-deps.sh")

    def test_mosquitto_clients(self):
        self.assert_installed("mosquitto_sub", "mosquitto_pub", "stdbuf")
        driver = self.start_driver(Driver("mosquitto-clients", [
            sys.executable, os.path.join(CLIENTS, "mosquitto_driver.py")], self.workdir))
        self.run_cells(driver, "mosquitto", ("3.1", "3.1.1", "5"), ("tls",))

    def test_paho_python(self):
        # Debian's python3-paho-mqtt is installed for Debian's interpreter, which need
        # not be the one running the tests.
        driver = self.start_driver(Driver("paho", [
            "/usr/bin/python3", os.path.join(CLIENTS, "paho_driver.py")], self.workdir))
        self.run_cells(driver, "paho", ("3.1.1", "5"), ("tls", "wss"))

    def test_mqttjs_node(self):
        self.assert_mqttjs_installed()
        driver = self.start_driver(Driver("mqttjs-node", [
            "node", os.path.join(NODE, "driver.js")], self.workdir))
        self.run_cells(driver, "mqttjs-node", ("3.1.1", "5"), ("tls", "wss"))

    def test_mqttjs_chromium(self):
        self.assert_mqttjs_installed()
        self.assert_installed("chromium", "certutil")
        server = PageServer(self.page_port)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        driver = self.start_driver(BrowserDriver(server, self.workdir))
        self.run_cells(driver, "mqttjs-chromium", ("3.1.1", "5"), ("wss",))


if __name__ == "__main__":
    unittest.main()
