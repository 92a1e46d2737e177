"""The little protocol every client driver of test_client_matrix.py speaks, and the parts of
it the Python drivers share.

A driver reads one JSON command a line and answers each with one JSON line, in order:
{"ok": true, ...} or {"ok": false, "error": "..."}. A driver holds any number of
connections, each under a `name` the test picks. Commands:

  connect     name host port transport ("tls" | "wss") path ca version ("3.1" | "3.1.1" | "5")
              client_id username password clean session_expiry (seconds, 5.0 only)
              will ({topic, payload, qos, retain} or null)
              -> session_present (null when the client cannot tell)
  subscribe   name filters ([[filter, qos], ...]) -> granted (the SUBACK's codes)
  publish     name topic payload qos retain -> reason (a 5.0 PUBACK/PUBREC reason code,
              null when the client does not tell); answered once the QoS flow is complete
  receive     name topics timeout -> messages: every message the connection has received
              since the last receive, returned as soon as each of `topics` is among them
              ({topic, payload, qos, retain}); ok is false when the timeout ran out first
  disconnect  name: a DISCONNECT, then close
  drop        name: close the network connection without DISCONNECT, as a crashed client

Payloads are UTF-8 strings. The Node driver and the browser page speak the same commands
(node/session.js); the browser gets them over HTTP from the test instead of stdin."""

import json
import sys
import threading
import time


class Inbox:
    """Messages one connection received, filled by the client library's thread."""

    def __init__(self):
        self._messages = []
        self._changed = threading.Condition()

    def add(self, topic, payload, qos, retain):
        with self._changed:
            self._messages.append({"topic": topic, "payload": payload, "qos": qos,
                                   "retain": bool(retain)})
            self._changed.notify_all()

    def take(self, topics, timeout):
        deadline = time.monotonic() + timeout
        with self._changed:
            while not set(topics) <= {m["topic"] for m in self._messages}:
                left = deadline - time.monotonic()
                if left <= 0:
                    return {"ok": False, "error": f"timed out after {timeout}s waiting for "
                                                  f"{sorted(topics)}",
                            "messages": self._messages}
                self._changed.wait(left)
            taken, self._messages = self._messages, []
            return {"ok": True, "messages": taken}


def serve(handlers):
    """Answers commands from stdin with `handlers[op](command)` until stdin closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            answer = handlers[command["op"]](command)
        except Exception as e:  # the test wants the reason, not a dead driver
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
