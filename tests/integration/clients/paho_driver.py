"""Eclipse paho-mqtt (Debian's python3-paho-mqtt, the 1.6 API) behind the client-matrix
protocol (protocol.py), over TLS or WebSocket over TLS."""

import os
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import Inbox, serve  # noqa: E402

PROTOCOLS = {"3.1": mqtt.MQTTv31, "3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}
TIMEOUT = 15
connections = {}


class Connection:
    def __init__(self, c):
        self.v5 = c["version"] == "5"
        # 1.6 takes clean session here before 5.0, and clean start at connect() for 5.0.
        self.client = mqtt.Client(client_id=c["client_id"],
                                  clean_session=None if self.v5 else c["clean"],
                                  protocol=PROTOCOLS[c["version"]],
                                  transport="websockets" if c["transport"] == "wss" else "tcp")
        if c["transport"] == "wss":
            self.client.ws_set_options(path=c["path"])
        self.client.tls_set(ca_certs=c["ca"])
        self.client.username_pw_set(c["username"], c["password"])
        if c.get("will"):
            will = c["will"]
            self.client.will_set(will["topic"], will["payload"], will["qos"], will["retain"])
        self.inbox = Inbox()
        self.connack = None
        self.subacks = {}
        self.answered = threading.Condition()
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = lambda _c, _u, m: self.inbox.add(
            m.topic, m.payload.decode(), m.qos, m.retain)

    def on_connect(self, _client, _userdata, flags, rc, _properties=None):
        with self.answered:
            self.connack = (flags.get("session present"), int(getattr(rc, "value", rc)))
            self.answered.notify_all()

    def on_subscribe(self, _client, _userdata, mid, granted, _properties=None):
        with self.answered:
            self.subacks[mid] = [getattr(g, "value", g) for g in granted]
            self.answered.notify_all()

    def wait(self, condition, what):
        with self.answered:
            if not self.answered.wait_for(condition, TIMEOUT):
                raise TimeoutError(f"no {what} within {TIMEOUT}s")


def connect(c):
    connection = Connection(c)
    if connection.v5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = c["session_expiry"]
        connection.client.connect(c["host"], c["port"], 60, clean_start=c["clean"],
                                  properties=properties)
    else:
        connection.client.connect(c["host"], c["port"], 60)
    connection.client.loop_start()
    connections[c["name"]] = connection
    connection.wait(lambda: connection.connack is not None, "CONNACK")
    session_present, rc = connection.connack
    if rc != 0:
        return {"ok": False, "error": f"CONNACK {rc}"}
    return {"ok": True, "session_present": bool(session_present)}


def subscribe(c):
    connection = connections[c["name"]]
    rc, mid = connection.client.subscribe([(f, q) for f, q in c["filters"]])
    if rc != mqtt.MQTT_ERR_SUCCESS:
        return {"ok": False, "error": mqtt.error_string(rc)}
    connection.wait(lambda: mid in connection.subacks, "SUBACK")
    return {"ok": True, "granted": connection.subacks[mid]}


def publish(c):
    info = connections[c["name"]].client.publish(c["topic"], c["payload"], c["qos"], c["retain"])
    info.wait_for_publish(TIMEOUT)
    if not info.is_published():
        return {"ok": False, "error": f"QoS {c['qos']} flow incomplete after {TIMEOUT}s"}
    # 1.6 completes a 5.0 flow without telling its reason code.
    return {"ok": True, "reason": None}


def receive(c):
    return connections[c["name"]].inbox.take(c["topics"], c["timeout"])


def disconnect(c):
    connection = connections.pop(c["name"])
    connection.client.disconnect()
    connection.client.loop_stop()
    return {"ok": True}


def drop(c):
    connection = connections.pop(c["name"])
    # The network loop reconnects on a lost connection: stop it before pulling the socket.
    connection.client.loop_stop()
    connection.client.socket().close()
    return {"ok": True}


serve({"connect": connect, "subscribe": subscribe, "publish": publish, "receive": receive,
       "disconnect": disconnect, "drop": drop})
