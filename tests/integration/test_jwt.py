"""Bearer tokens (issue 16, auth.jwt): keys and tokens the test makes itself with openssl,
a real mosquitto behind moat's TLS listener. A valid token gets in and its groups grant
what the native policy says; every kind of bad token is refused with CONNACK 0x86 (3.1.1:
4) and counted under its own reason; a session ends within a second of its token's exp;
rotating the JWKS file admits the new key's tokens and, once the old key is gone,
refuses the old one's; `moat policy explain --token` shows who a token makes a client."""

import base64
import hmac
import hashlib
import json
import os
import signal
import ssl
import subprocess
import time
import unittest

from harness import (MOAT_BIN, MQTT_DISCONNECT, Certs, MqttClient, ProxyTestCase, free_port,
                     metric, password_file, password_of, tls_listener, wait_for_metric,
                     wait_until)

ISSUER = "https://issuer.example"
AUDIENCE = "moat"
BAD_CREDENTIALS_V5, BAD_CREDENTIALS_V311 = 0x86, 4
NOT_AUTHORIZED = 0x87
MAXIMUM_CONNECT_TIME = 0xA0


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True).stdout


def der_integers(der):
    """The two INTEGERs of a DER ECDSA-Sig-Value (SEQUENCE { r, s }), as ints."""
    assert der[0] == 0x30
    offset = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    values = []
    for _ in range(2):
        assert der[offset] == 0x02
        size = der[offset + 1]
        values.append(int.from_bytes(der[offset + 2:offset + 2 + size], "big"))
        offset += 2 + size
    return values


class Key:
    """A private key made by openssl; `kind` is RS256, ES256 or EdDSA."""

    def __init__(self, directory, kind, kid, file_name=None):
        self.kind, self.kid = kind, kid
        self.path = os.path.join(directory, f"{file_name or kid}.key")
        spec = {"RS256": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                "ES256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "EdDSA": ["-algorithm", "ED25519"]}[kind]
        openssl("genpkey", *spec, "-out", self.path)
        self.public_pem = openssl("pkey", "-in", self.path, "-pubout")
        self.public_der = openssl("pkey", "-in", self.path, "-pubout", "-outform", "DER")

    def jwk(self):
        if self.kind == "RS256":
            modulus = openssl("rsa", "-in", self.path, "-noout", "-modulus").decode()
            n = bytes.fromhex(modulus.strip().split("=", 1)[1])
            return {"kty": "RSA", "kid": self.kid, "n": b64url(n), "e": b64url(b"\x01\x00\x01")}
        if self.kind == "ES256":
            point = self.public_der[-65:]  # 04 || x || y
            return {"kty": "EC", "crv": "P-256", "kid": self.kid, "x": b64url(point[1:33]),
                    "y": b64url(point[33:])}
        return {"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "x": b64url(self.public_der[-32:])}

    def sign(self, signing_input):
        if self.kind == "RS256":
            return openssl("dgst", "-sha256", "-sign", self.path, data=signing_input)
        if self.kind == "ES256":
            r, s = der_integers(openssl("dgst", "-sha256", "-sign", self.path,
                                        data=signing_input))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        path = self.path + ".input"
        with open(path, "wb") as f:
            f.write(signing_input)
        return openssl("pkeyutl", "-sign", "-inkey", self.path, "-rawin", "-in", path)


def token(key, claims=None, header=None, **changes):
    """A token signed by `key`; `changes` override the default claims (None removes)."""
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "edge-1", "iat": now, "exp": now + 600}
    body.update(claims or {})
    for name, value in changes.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    head = header or {"alg": key.kind, "kid": key.kid, "typ": "JWT"}
    signing_input = (b64url(json.dumps(head).encode()) + "." +
                     b64url(json.dumps(body).encode())).encode()
    return signing_input.decode() + "." + b64url(key.sign(signing_input))


POLICY = """\
groups:
  operators: []
rules:
  - id: operators-plant
    effect: allow
    actions: [publish, subscribe]
    groups: [operators]
    topics: ["plant/#"]
  - id: own-status
    effect: allow
    everyone: true
    actions: [publish]
    topics: ["status/%u"]
"""


class JwtTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.keydir = tempfile.mkdtemp(prefix="moat-jwt-")
        cls.rsa = Key(cls.keydir, "RS256", "rsa-1")
        cls.ec = Key(cls.keydir, "ES256", "ec-1")
        cls.ed = Key(cls.keydir, "EdDSA", "ed-1")

    def setUp(self):
        super().setUp()
        self.broker = self.start_broker()
        self.port = free_port()
        self.metrics_port = free_port()
        self.jwks_path = os.path.join(self.workdir, "jwks.json")
        self.write_jwks(self.rsa, self.ec, self.ed)
        policy_path = os.path.join(self.workdir, "policy.yaml")
        with open(policy_path, "w") as f:
            f.write(POLICY)
        self.tls = ssl.create_default_context(cafile=Certs.path("ca.crt"))

    def write_jwks(self, *keys):
        with open(self.jwks_path + ".new", "w") as f:
            json.dump({"keys": [key.jwk() for key in keys]}, f, indent=1)
        os.replace(self.jwks_path + ".new", self.jwks_path)

    def start(self, require="", auth_extra=""):
        auth = ("auth:\n  ban: off\n" + auth_extra +
                (f"  require: {require}\n" if require else "") +
                f"  jwt:\n    jwks_file: {self.jwks_path}\n    issuer: {ISSUER}\n"
                f"    audience: {AUDIENCE}\n    groups_claim: groups\n    clock_skew: 0s\n")
        self.moat = self.start_moat(
            self.broker.port, [tls_listener(self.port)], auth=auth,
            policy=f"policy:\n  file: {os.path.join(self.workdir, 'policy.yaml')}\n",
            extra=f'metrics:\n  bind: "127.0.0.1:{self.metrics_port}"\n')
        self.moat.wait_listening(self.port)

    def client(self, password, version=5, client_id="edge-1", username=None):
        # Before 5.0 a password needs a user name [MQTT-3.1.2-22]; the token names the client.
        if username is None and version != 5:
            username = "any"
        return MqttClient(self.port, version, client_id, tls=self.tls, username=username,
                          password=password)

    def refusals(self, reason):
        return metric(self.metrics_port, "moat_token_refusals_total", reason=reason)

    def assert_refused(self, password, reason, version=5):
        before = self.refusals(reason)
        client = self.client(password, version=version)
        expected = BAD_CREDENTIALS_V5 if version == 5 else BAD_CREDENTIALS_V311
        self.assertEqual(client.connack()[1], expected, reason)
        client.close()
        wait_for_metric(self.metrics_port, "moat_token_refusals_total", before + 1, reason=reason)

    def test_a_valid_token_gets_in_and_its_groups_grant_what_the_policy_says(self):
        self.start()
        operator = self.client(token(self.rsa, groups=["operators"]), client_id="op")
        self.assertEqual(operator.connack()[1], 0)
        # mosquitto answers 0x10 (no matching subscribers) where it accepts.
        self.assertLess(operator.publish_flow("plant/line-1", b"go", qos=1), 0x80)
        self.assertLess(operator.publish_flow("status/edge-1", b"up", qos=1), 0x80)
        outsider = self.client(token(self.ec, sub="edge-2"), client_id="edge-2")
        self.assertEqual(outsider.connack()[1], 0)
        self.assertEqual(outsider.publish_flow("plant/line-1", b"go", qos=1), NOT_AUTHORIZED)
        self.assertLess(outsider.publish_flow("status/edge-2", b"up", qos=1), 0x80)
        self.assertEqual(outsider.publish_flow("status/edge-1", b"up", qos=1), NOT_AUTHORIZED)
        eddsa = self.client(token(self.ed, sub="edge-3", groups=["operators"]), version=4,
                            client_id="edge-3")
        self.assertEqual(eddsa.connack()[1], 0)
        for client in (operator, outsider, eddsa):
            client.close()

    def test_each_bad_token_is_refused_under_its_own_reason(self):
        self.start()
        now = int(time.time())
        stranger = Key(self.keydir, "RS256", "rsa-1", "stranger")  # same kid, another key
        header_none = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "edge-1", "exp": now + 600}
        unsigned = header_none + "." + b64url(json.dumps(claims).encode()) + "."
        hmac_input = (b64url(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode()) + "." +
                      b64url(json.dumps(claims).encode()))
        # The key-confusion attack: HS256 with the RSA public key as the shared secret.
        hmac_token = hmac_input + "." + b64url(hmac.new(self.rsa.public_pem,
                                                        hmac_input.encode(),
                                                        hashlib.sha256).digest())
        cases = [
            (token(self.rsa, aud="another-service"), "audience"),
            (token(self.rsa, iss="https://evil.example"), "issuer"),
            (token(self.rsa, exp=now - 5, iat=now - 60), "expired"),
            (token(self.rsa, nbf=now + 300), "not_yet_valid"),
            (token(self.rsa, header={"alg": "RS256", "kid": "unknown"}), "unknown_key"),
            (token(stranger), "signature"),
            (unsigned, "algorithm"),
            (hmac_token, "algorithm"),
            ("not a token at all", "malformed"),
        ]
        for password, reason in cases:
            with self.subTest(reason=reason, token=password[:40]):
                self.assert_refused(password, reason)
        self.assert_refused(token(self.rsa, exp=now - 5), "expired", version=4)
        self.assertGreaterEqual(metric(self.metrics_port, "moat_denials_total", action="connect",
                                       reason="bad_credentials"), len(cases) + 1)

    def test_a_session_ends_within_a_second_of_its_tokens_exp(self):
        self.start()
        expires = int(time.time()) + 3
        v5 = self.client(token(self.ec, exp=expires), client_id="short-5")
        v311 = self.client(token(self.ed, exp=expires, sub="edge-9"), version=4,
                           client_id="short-4")
        self.assertEqual(v5.connack()[1], 0)
        self.assertEqual(v311.connack()[1], 0)
        v5.sock.settimeout(10)
        _, body = v5.expect(MQTT_DISCONNECT)
        ended = time.time()
        self.assertEqual(body[0], MAXIMUM_CONNECT_TIME)
        self.assertGreaterEqual(ended, expires - 0.05)
        self.assertLess(ended, expires + 1.0)
        self.assertTrue(v311.closed_by_peer(timeout=2))
        wait_for_metric(self.metrics_port, "moat_sessions_ended_total", 2, reason="token_expired",
                        listener=f"127.0.0.1:{self.port}")
        for client in (v5, v311):
            client.close()

    def test_rotating_the_jwks_file_admits_the_new_key_and_drops_the_old(self):
        self.write_jwks(self.rsa)
        self.start()
        new_key = Key(self.keydir, "ES256", "ec-2")
        old_token = token(self.rsa)
        self.assertEqual(self.client(old_token).connack()[1], 0)
        self.assert_refused(token(new_key), "unknown_key")
        self.write_jwks(self.rsa, new_key)
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.client(token(new_key), client_id="n").connack()[1] == 0,
                   what="the new key to be accepted")
        self.assertEqual(self.client(old_token, client_id="o").connack()[1], 0)
        self.write_jwks(new_key)
        self.moat.process.proc.send_signal(signal.SIGHUP)
        # The old token was cached as verified: removing its key must forget that.
        wait_until(lambda: self.client(old_token, client_id="o2").connack()[1] ==
                   BAD_CREDENTIALS_V5, what="the old key's token to be refused")
        self.assertEqual(self.client(token(new_key), client_id="n2").connack()[1], 0)
        # A broken file is refused with FILE:LINE and counted; the keys in force stay.
        failures = metric(self.metrics_port, "moat_reloads_total", result="failure")
        with open(self.jwks_path, "w") as f:
            f.write('{"keys": [\n  {"kty": "oct", "k": "c2VjcmV0"}\n]}\n')
        self.moat.process.proc.send_signal(signal.SIGHUP)
        wait_for_metric(self.metrics_port, "moat_reloads_total", failures + 1, result="failure")
        self.assertIn(f"{self.jwks_path}:2: 'keys[0]' holds private key material",
                      self.moat.process.log())
        self.assertEqual(self.client(token(new_key), client_id="n3").connack()[1], 0)

    def test_check_config_names_the_line_of_a_bad_key(self):
        with open(self.jwks_path, "w") as f:
            f.write('{"keys": [\n  {"kty": "RSA", "n": "AQAB", "e": "AQAB"}\n]}\n')
        config = os.path.join(self.workdir, "check.yaml")
        with open(config, "w") as f:
            f.write(f'listeners:\n  - bind: "127.0.0.1:{free_port()}"\n'
                    f'upstream:\n  address: "127.0.0.1:{self.broker.port}"\n'
                    f"auth:\n  jwt:\n    jwks_file: {self.jwks_path}\n"
                    f"    issuer: {ISSUER}\n    audience: {AUDIENCE}\n"
                    "policy:\n  allow_all: true\n")
        result = subprocess.run([MOAT_BIN, "--check-config", config], capture_output=True,
                                text=True)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"{self.jwks_path}:2: 'keys[0]' is an RSA key under 2048 bits",
                      result.stdout + result.stderr)

    def test_password_or_token_takes_either(self):
        users = password_file(self.workdir, ["alice"])
        self.start(require="password_or_token", auth_extra=f"  password_file: {users}\n")
        self.assertEqual(self.client(password_of("alice"), username="alice",
                                     client_id="a").connack()[1], 0)
        self.assertEqual(self.client("wrong", username="alice", client_id="a2").connack()[1],
                         BAD_CREDENTIALS_V5)
        self.assertEqual(self.client(token(self.rsa), client_id="t").connack()[1], 0)
        self.assert_refused(token(self.rsa, aud="other"), "audience")

    def test_policy_explain_shows_who_a_token_makes_the_client(self):
        self.start()
        config = self.moat.config_path

        def explain(text, topic):
            path = os.path.join(self.workdir, f"token-{free_port()}")
            with open(path, "w") as f:
                f.write(text + "\n")
            result = subprocess.run([MOAT_BIN, "policy", "explain", "--config", config,
                                     "--token", path, "publish", topic],
                                    capture_output=True, text=True)
            return result.returncode, result.stdout

        code, out = explain(token(self.rsa, sub="op-7", groups=["operators"]), "plant/x")
        self.assertEqual(code, 0, out)
        self.assertIn("token: identity op-7, groups [operators], expires", out)
        self.assertIn("allow rule operators-plant", out)
        code, out = explain(token(self.rsa, sub="op-7"), "plant/x")
        self.assertEqual(code, 3, out)
        code, out = explain(token(self.rsa, exp=int(time.time()) - 10), "status/edge-1")
        self.assertEqual(code, 3, out)
        self.assertIn("deny (token refused: expired", out)
        code, out = explain(json.dumps({"sub": "op-8", "groups": ["operators"]}), "plant/x")
        self.assertEqual(code, 0, out)
        self.assertIn("(claims file: not verified)", out)


if __name__ == "__main__":
    unittest.main()
