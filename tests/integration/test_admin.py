"""The admin API (issue 17): sessions listed, kicked and banned over HTTPS with a bearer
token and with a client certificate, refusals without either (401/403, counted), manual
bans enforced at accept and CONNECT and kept across a restart, and `moat ctl` for every
subcommand. Real mosquitto, real TLS with the test's own certificates."""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request

from harness import (MOAT_BIN, Certs, MqttClient, ProxyTestCase, RawClient, audit_lines,
                     connect_packet,
                     free_port, metric, password_file, password_of, plain_listener, port_open,
                     wait_for_metric, wait_until)

TOKEN = "admin-token-0123456789abcdef"
MQTT_DISCONNECT = 0xE0
ADMINISTRATIVE_ACTION = 0x98
BANNED = 0x8A  # MQTT 5 CONNACK reason: Banned
NOT_AUTHORIZED = 5  # what 3.1.1 has for it


def https_context(cert=None, key=None):
    context = ssl.create_default_context(cafile=Certs.path("ca.crt"))
    if cert:
        context.load_cert_chain(cert, key)
    return context


class AdminApiTest(ProxyTestCase):
    admin_extra = ""  # more admin.* settings

    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.mqtt_port = free_port()
        self.metrics_port = free_port()
        self.admin_port = free_port()
        self.token_file = os.path.join(self.workdir, "admin-token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.state_file = os.path.join(self.workdir, "admin-state.json")
        self.audit_file = os.path.join(self.workdir, "audit.log")
        self.passwd = password_file(self.workdir, ["alice", "mallory", "eve"])
        # Copies, so a test can rotate them in place.
        self.admin_cert = os.path.join(self.workdir, "admin.crt")
        self.admin_key = os.path.join(self.workdir, "admin.key")
        shutil.copy(Certs.path("server.crt"), self.admin_cert)
        shutil.copy(Certs.path("server.key"), self.admin_key)
        self.moat = self.start()

    def admin_section(self, token=True, ctl_cert=False):
        text = (f'admin:\n  bind: "127.0.0.1:{self.admin_port}"\n'
                f"  state_file: {self.state_file}\n"
                f"  tls:\n    cert: {self.admin_cert}\n"
                f"    key: {self.admin_key}\n"
                f"    client_ca: {Certs.path('ca.crt')}\n")
        if token:
            text += f"  bearer_token_file: {self.token_file}\n"
        text += self.admin_extra
        if ctl_cert:
            text += (f"  ctl:\n    cert: {Certs.path('client.crt')}\n"
                     f"    key: {Certs.path('client.key')}\n")
        return text

    def start(self):
        extra = (f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n'
                 f"audit:\n  file: {self.audit_file}\n" + self.admin_section())
        auth = f"auth:\n  password_file: {self.passwd}\n  allow_anonymous: true\n"
        moat = self.start_moat(self.broker.port, [plain_listener(self.mqtt_port)], extra=extra,
                               auth=auth)
        moat.wait_listening(self.mqtt_port)
        wait_until(lambda: port_open(self.admin_port), what="the admin API to listen")
        return moat

    def restart(self):
        self.moat.process.stop()
        self.moat = self.start()

    def request(self, method, path, body=None, token=TOKEN, context=None):
        """(status, parsed JSON body) of one admin API call."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"https://127.0.0.1:{self.admin_port}{path}", data=data,
                                     method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10,
                                        context=context or https_context()) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def ctl(self, *args, config=None):
        result = subprocess.run([MOAT_BIN, "ctl", "--config", config or self.moat.config_path,
                                 *args], capture_output=True, text=True, timeout=30)
        return result.returncode, result.stdout, result.stderr

    def ctl_config_with_cert_only(self):
        """A config for `moat ctl` that logs in with admin.ctl's client certificate and
        knows no token."""
        path = os.path.join(self.workdir, "ctl-cert.yaml")
        with open(path, "w") as f:
            f.write(f'listeners:\n  - bind: "127.0.0.1:{free_port()}"\n'
                    f'upstream:\n  address: "127.0.0.1:{self.broker.port}"\n'
                    + self.admin_section(token=False, ctl_cert=True))
        return path

    def connect(self, client_id, version=5, **kwargs):
        client = MqttClient(self.mqtt_port, version, client_id, **kwargs)
        self.addCleanup(client.close)
        return client

    def listed(self, client_id, **auth):
        status, body = self.request("GET", "/v1/sessions", **auth)
        self.assertEqual(status, 200, body)
        return [s for s in body["sessions"] if s["client_id"] == client_id]

    def assert_kicked(self, client):
        first, body = client.read_packet()
        while first & 0xF0 == 0x30:  # its own PUBLISH coming back first
            first, body = client.read_packet()
        self.assertEqual(first, MQTT_DISCONNECT)
        self.assertEqual(body[0], ADMINISTRATIVE_ACTION)
        self.assertTrue(client.closed_by_peer())

    def assert_banned_at_connect(self, client_id, version=5, **connect):
        client = self.connect(client_id, version=version, **connect)
        self.assertEqual(client.connack()[1], BANNED if version == 5 else NOT_AUTHORIZED)

    # -- bearer token ------------------------------------------------------------------

    def test_bearer_token_lists_kicks_and_bans(self):
        client = self.connect("sensor-1")
        self.assertEqual(client.connack(), (0, 0))
        self.assertEqual(client.subscribe(1, [("plant/#", 1)]), [1])
        client.publish("plant/temp", b"21")
        wait_until(lambda: self.listed("sensor-1") and
                   self.listed("sensor-1")[0]["messages_from_client"] >= 1,
                   what="the session to be listed with its PUBLISH")
        session = self.listed("sensor-1")[0]
        self.assertEqual(session["protocol_version"], "5")
        self.assertEqual(session["address"], "127.0.0.1")
        self.assertEqual(session["listener"], f"127.0.0.1:{self.mqtt_port}")
        self.assertEqual(session["subscriptions"], [{"filter": "plant/#", "qos": 1}])
        self.assertGreater(session["bytes_from_client"], 0)
        self.assertIn("connected_since", session)

        status, body = self.request("POST", "/v1/sessions/kick", {"client_id": "sensor-1"})
        self.assertEqual((status, body), (200, {"sessions_ended": 1}))
        self.assert_kicked(client)
        self.assertEqual(self.listed("sensor-1"), [])
        wait_for_metric(self.metrics_port, "moat_sessions_ended_total", 1, reason="admin")
        kicks = audit_lines(self.audit_file, event="admin", reason="kick")
        self.assertEqual(kicks[0]["actor"], "bearer")
        self.assertEqual(kicks[0]["client_id"], "sensor-1")

        # A ban on the client id ends the live session and refuses the next CONNECT.
        again = self.connect("sensor-1")
        self.assertEqual(again.connack(), (0, 0))
        wait_until(lambda: self.listed("sensor-1"), what="the session to be listed")
        status, body = self.request("POST", "/v1/bans",
                                    {"target": "client:sensor-1", "duration": "1h",
                                     "reason": "compromised"})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["sessions_ended"], 1)
        self.assertEqual(body["ban"]["created_by"], "bearer")
        self.assert_kicked(again)
        self.assert_banned_at_connect("sensor-1")
        self.assert_banned_at_connect("sensor-1", version=4)
        wait_for_metric(self.metrics_port, "moat_admin_bans_active", 1)
        self.assertEqual(audit_lines(self.audit_file, event="admin", reason="ban")[0]["actor"],
                         "bearer")

    def test_a_user_ban_refuses_that_user_only(self):
        status, _ = self.request("POST", "/v1/bans", {"target": "user:mallory"})
        self.assertEqual(status, 201)
        self.assert_banned_at_connect("any-id", username="mallory",
                                      password=password_of("mallory"))
        other = self.connect("other-id", username="alice", password=password_of("alice"))
        self.assertEqual(other.connack(), (0, 0))

    def test_an_address_ban_ends_live_sessions_and_refuses_at_accept(self):
        client = self.connect("from-loopback")
        self.assertEqual(client.connack(), (0, 0))
        wait_until(lambda: self.listed("from-loopback"), what="the session to be listed")
        status, body = self.request("POST", "/v1/bans", {"target": "127.0.0.0/8"})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["sessions_ended"], 1)
        self.assert_kicked(client)
        refused = RawClient(self.mqtt_port)
        self.addCleanup(refused.close)
        self.assertTrue(refused.closed_by_peer())
        wait_for_metric(self.metrics_port, "moat_connections_refused_total", 1, reason="banned")
        status, _ = self.request("POST", "/v1/bans/remove", {"target": "127.0.0.0/8"})
        self.assertEqual(status, 200)
        self.assertEqual(self.connect("after-unban").connack(), (0, 0))

    # -- client certificate ------------------------------------------------------------

    def test_client_certificate_lists_kicks_and_bans(self):
        with_cert = https_context(Certs.path("client.crt"), Certs.path("client.key"))
        client = self.connect("cert-kick")
        self.assertEqual(client.connack(), (0, 0))
        wait_until(lambda: self.listed("cert-kick", token=None, context=with_cert),
                   what="the session to be listed")
        status, body = self.request("POST", "/v1/sessions/kick", {"client_id": "cert-kick"},
                                    token=None, context=with_cert)
        self.assertEqual((status, body), (200, {"sessions_ended": 1}))
        self.assert_kicked(client)
        status, body = self.request("POST", "/v1/bans", {"target": "user:eve"}, token=None,
                                    context=with_cert)
        self.assertEqual(status, 201, body)
        actor = body["ban"]["created_by"]
        self.assertTrue(actor.startswith("cert:") and "CN=dev-client" in actor, actor)
        self.assertRegex(actor, r"sha256:[0-9a-f]{64}$")
        self.assert_banned_at_connect("eve-id", username="eve", password=password_of("eve"))
        self.assertEqual(audit_lines(self.audit_file, event="admin", reason="kick")[0]["actor"],
                         actor)

    # -- refusals ----------------------------------------------------------------------

    def test_refuses_without_credentials_and_counts_it(self):
        self.assertEqual(self.request("GET", "/v1/sessions", token=None)[0], 401)
        self.assertEqual(self.request("GET", "/v1/bans", token="wrong-token")[0], 403)
        self.assertEqual(self.request("POST", "/v1/bans", {"target": "user:x"},
                                      token=None)[0], 401)
        self.assertEqual(self.request("GET", "/v1/bans")[0], 200)  # the right one works
        self.assertEqual(metric(self.metrics_port, "moat_admin_requests_total",
                                outcome="unauthorized"), 2)
        self.assertEqual(metric(self.metrics_port, "moat_admin_requests_total",
                                outcome="forbidden"), 1)
        self.assertEqual(metric(self.metrics_port, "moat_admin_bans_active"), 0)
        self.assertEqual(len(audit_lines(self.audit_file, event="admin_refused")), 3)
        # Plain HTTP gets no answer at all from an HTTPS API.
        with self.assertRaises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/v1/bans", timeout=5)

    def test_bounds_the_request_body(self):
        # Announced and refused before the body is read; sending no body keeps the
        # answer from racing a reset for the unread bytes.
        connection = http.client.HTTPSConnection("127.0.0.1", self.admin_port, timeout=10,
                                                 context=https_context())
        self.addCleanup(connection.close)
        connection.putrequest("POST", "/v1/bans")
        connection.putheader("Authorization", f"Bearer {TOKEN}")
        connection.putheader("Content-Length", "70000")
        connection.endheaders()
        self.assertEqual(connection.getresponse().status, 413)
        self.assertEqual(metric(self.metrics_port, "moat_admin_requests_total",
                                outcome="body_too_large"), 1)

    def test_a_reload_rotates_the_token_and_the_certificate(self):
        def served_certificate():
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", self.admin_port), timeout=10) as sock:
                with context.wrap_socket(sock) as tls:
                    return tls.getpeercert(binary_form=True)

        def der(path):
            with open(path) as f:
                return ssl.PEM_cert_to_DER_cert(f.read())

        self.assertEqual(served_certificate(), der(Certs.path("server.crt")))
        rotated = "rotated-token-9876543210fedcba"
        with open(self.token_file, "w") as f:
            f.write(rotated + "\n")
        # broker.crt is another certificate for the same names, signed by the same CA.
        shutil.copy(Certs.path("broker.crt"), self.admin_cert)
        shutil.copy(Certs.path("broker.key"), self.admin_key)
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP: reloaded" in self.moat.process.log(), what="the reload")
        wait_until(lambda: served_certificate() == der(Certs.path("broker.crt")),
                   what="the rotated certificate")
        self.assertEqual(self.request("GET", "/v1/bans")[0], 403)  # the old token
        self.assertEqual(self.request("GET", "/v1/bans", token=rotated)[0], 200)

    def test_automatic_bans_are_listed_and_an_operator_unlocks_them(self):
        # Five wrong passwords from one address (auth.ban's default), sent at once so the
        # failure delays overlap: the address and mallory-from-there are banned.
        guesses = [RawClient(self.mqtt_port, source="127.0.0.9") for _ in range(5)]
        for i, guess in enumerate(guesses):
            self.addCleanup(guess.close)
            guess.send(connect_packet(f"guess-{i}", username="mallory", password="wrong"))
        for guess in guesses:
            self.assertEqual(guess.read_packet()[0], 0x20)
        code, out, err = self.ctl("autobans")
        self.assertEqual(code, 0, err)
        listed = sorted((b["address"], b.get("user", "")) for b in json.loads(out)["bans"])
        self.assertEqual(listed, [("127.0.0.9", ""), ("127.0.0.9", "mallory")])
        self.assertTrue(all(0 < b["expires_in_seconds"] <= 600 for b in json.loads(out)["bans"]))
        # The address is unlocked: alice gets in from there, mallory still does not.
        self.assertEqual(self.ctl("unlock", "127.0.0.9")[0], 0)
        self.assertEqual(self.connect("alice-there", source="127.0.0.9", username="alice",
                                      password=password_of("alice")).connack()[1], 0)
        self.assertEqual(self.connect("mallory-there", source="127.0.0.9", username="mallory",
                                      password=password_of("mallory")).connack()[1], BANNED)
        self.assertEqual(self.ctl("unlock", "127.0.0.9", "--user", "mallory")[0], 0)
        self.assertEqual(self.connect("mallory-again", source="127.0.0.9", username="mallory",
                                      password=password_of("mallory")).connack()[1], 0)
        self.assertEqual(self.ctl("unlock", "127.0.0.9")[0], 1)  # nothing left to lift
        self.assertEqual({e["reason"] for e in audit_lines(self.audit_file, event="admin")},
                         {"list_automatic_bans", "lift_automatic_ban"})

    def test_connections_past_the_limit_are_closed_and_silent_ones_time_out(self):
        # admin.max_connections and admin.request_timeout: a caller cannot hold the API.
        self.admin_extra = "  max_connections: 2\n  request_timeout: 1s\n"
        self.restart()
        held = [socket.create_connection(("127.0.0.1", self.admin_port), timeout=10)
                for _ in range(2)]
        for sock in held:
            self.addCleanup(sock.close)
        wait_for_metric(self.metrics_port, "moat_admin_requests_total", 0,
                        outcome="connection_limit")
        third = socket.create_connection(("127.0.0.1", self.admin_port), timeout=10)
        self.addCleanup(third.close)
        self.assertEqual(third.recv(1), b"")  # closed at once, unanswered
        wait_for_metric(self.metrics_port, "moat_admin_requests_total", 1,
                        outcome="connection_limit")
        # Silent past request_timeout (1 s): closed, and counted.
        for sock in held:
            self.assertEqual(sock.recv(1), b"")
        wait_for_metric(self.metrics_port, "moat_admin_requests_total", 2, outcome="timeout")
        self.assertEqual(self.request("GET", "/v1/bans")[0], 200)  # room again

    # -- persistence -------------------------------------------------------------------

    def test_a_manual_ban_survives_a_restart(self):
        code, out, err = self.ctl("ban", "client:persistent", "--for", "2h")
        self.assertEqual(code, 0, err)
        with open(self.state_file) as f:
            self.assertEqual(json.load(f)["bans"][0]["target"], "client:persistent")
        self.restart()
        code, out, err = self.ctl("bans")
        self.assertEqual(code, 0, err)
        self.assertEqual([b["target"] for b in json.loads(out)["bans"]], ["client:persistent"])
        self.assert_banned_at_connect("persistent")
        wait_for_metric(self.metrics_port, "moat_admin_bans_active", 1)

    # -- moat ctl ----------------------------------------------------------------------

    def run_every_ctl_subcommand(self, config):
        client = self.connect("ctl-client")
        self.assertEqual(client.connack(), (0, 0))
        wait_until(lambda: "ctl-client" in self.ctl("sessions", config=config)[1],
                   what="ctl sessions to list the client")
        code, out, err = self.ctl("sessions", config=config)
        self.assertEqual(code, 0, err)
        self.assertEqual([s["client_id"] for s in json.loads(out)["sessions"]], ["ctl-client"])
        code, out, err = self.ctl("kick", "ctl-client", config=config)
        self.assertEqual((code, json.loads(out)), (0, {"sessions_ended": 1}), err)
        self.assert_kicked(client)
        code, out, err = self.ctl("kick", "ctl-client", config=config)
        self.assertEqual(code, 1)  # nobody left to kick
        code, out, err = self.ctl("ban", "192.0.2.0/24", "--for", "30m", "--reason", "scan",
                                  config=config)
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["ban"]["reason"], "scan")
        code, out, err = self.ctl("bans", config=config)
        self.assertEqual([b["target"] for b in json.loads(out)["bans"]], ["192.0.2.0/24"])
        code, out, err = self.ctl("unban", "192.0.2.0/24", config=config)
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(self.ctl("bans", config=config)[1])["bans"], [])
        code, out, err = self.ctl("ban", "not-a-target", config=config)
        self.assertEqual(code, 1)
        self.assertIn("not an address", err)

    def test_ctl_with_the_bearer_token(self):
        self.run_every_ctl_subcommand(self.moat.config_path)
        self.assertEqual({e["actor"] for e in audit_lines(self.audit_file, event="admin")},
                         {"bearer"})

    def test_ctl_with_a_client_certificate(self):
        self.run_every_ctl_subcommand(self.ctl_config_with_cert_only())
        actors = {e["actor"] for e in audit_lines(self.audit_file, event="admin")}
        self.assertEqual(len(actors), 1)
        self.assertTrue(next(iter(actors)).startswith("cert:"), actors)

    def test_ctl_fails_when_the_api_is_unreachable(self):
        self.moat.process.stop()
        code, _, err = self.ctl("sessions")
        self.assertEqual(code, 1)
        self.assertIn("cannot connect", err)


class AdminConfigTest(ProxyTestCase):

    def test_refuses_an_unauthenticated_admin_api_with_file_and_line(self):
        config = os.path.join(self.workdir, "moat.yaml")
        with open(config, "w") as f:
            f.write('listeners:\n  - bind: "127.0.0.1:1884"\nupstream:\n'
                    '  address: "127.0.0.1:1883"\nadmin:\n  bind: "127.0.0.1:9200"\n'
                    f"  state_file: {self.workdir}/state.json\n")
        result = subprocess.run([MOAT_BIN, "--check-config", config], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{config}:6: 'admin.bind' is set but the admin API would be "
                      "unauthenticated", result.stderr)
