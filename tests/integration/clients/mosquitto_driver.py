"""mosquitto_sub and mosquitto_pub behind the client-matrix protocol (protocol.py).

The tools are one-shot programs, so a connection here is a set of CONNECT arguments: a
subscribe starts a mosquitto_sub that holds the connection (with its Will and session
settings), a publish runs one mosquitto_pub with them. Their -d debug output is what
tells the SUBACK's codes and the 5.0 reason of a PUBACK/PUBREC."""

import json
import os
import re
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import Inbox, serve  # noqa: E402

VERSIONS = {"3.1": "mqttv31", "3.1.1": "mqttv311", "5": "mqttv5"}
connections = {}


def connect_args(c):
    args = ["-h", c["host"], "-p", str(c["port"]), "-V", VERSIONS[c["version"]],
            "--cafile", c["ca"], "-i", c["client_id"], "-u", c["username"],
            "-P", c["password"], "-d"]
    if not c["clean"]:
        args.append("-c")
        if c["version"] == "5":
            args += ["-x", str(c["session_expiry"])]
    if c.get("will"):
        will = c["will"]
        args += ["--will-topic", will["topic"], "--will-payload", will["payload"],
                 "--will-qos", str(will["qos"])] + (["--will-retain"] if will["retain"] else [])
    return args


def connect(c):
    if c["transport"] != "tls":
        return {"ok": False, "error": "mosquitto's clients speak no WebSocket"}
    connections[c["name"]] = {"args": connect_args(c), "process": None}
    return {"ok": True, "session_present": None}


def read_output(process, inbox, subacks):
    for line in process.stdout:
        if line.startswith("{"):
            m = json.loads(line)
            inbox.add(m["topic"], m["payload"], m["qos"], m["retain"])
        elif line.startswith("Subscribed (mid:"):
            subacks.put_line(line)
    subacks.put_line(None)


class Lines:
    def __init__(self):
        self._lines, self._changed = [], threading.Condition()

    def put_line(self, line):
        with self._changed:
            self._lines.append(line)
            self._changed.notify_all()

    def first(self, timeout):
        with self._changed:
            self._changed.wait_for(lambda: self._lines, timeout)
            return self._lines[0] if self._lines else None


def subscribe(c):
    connection = connections[c["name"]]
    qos = {q for _, q in c["filters"]}
    if connection["process"] is not None or len(qos) != 1:
        return {"ok": False, "error": "mosquitto_sub subscribes once, at one QoS"}
    # Into a pipe mosquitto_sub's debug lines, the SUBACK's among them, would wait in
    # stdio's buffer; line buffering hands each over as it is printed.
    argv = ["stdbuf", "-oL", "mosquitto_sub", *connection["args"], "-F", "%j",
            "-q", str(qos.pop())]
    for topic_filter, _ in c["filters"]:
        argv += ["-t", topic_filter]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    inbox, subacks = Inbox(), Lines()
    connection.update(process=process, inbox=inbox)
    threading.Thread(target=read_output, args=(process, inbox, subacks), daemon=True).start()
    line = subacks.first(15)
    if line is None:
        return {"ok": False, "error": f"no SUBACK (exit status {process.poll()})"}
    return {"ok": True, "granted": [int(code) for code in line.split(":")[-1].split(",")]}


def publish(c):
    connection = connections[c["name"]]
    argv = ["mosquitto_pub", *connection["args"], "-t", c["topic"], "-m", c["payload"],
            "-q", str(c["qos"])] + (["-r"] if c["retain"] else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    reasons = re.findall(r"received PUB(?:ACK|REC) \(Mid: \d+, RC:(\d+)\)", done.stdout)
    if done.returncode != 0 and not reasons:
        return {"ok": False, "error": f"exit status {done.returncode}: {done.stderr.strip()}"}
    return {"ok": True, "reason": int(reasons[0]) if reasons else None}


def receive(c):
    return connections[c["name"]]["inbox"].take(c["topics"], c["timeout"])


def stop(c, sig):
    process = connections.pop(c["name"])["process"]
    if process is not None:
        # On SIGINT mosquitto_sub sends DISCONNECT; SIGKILL leaves only the kernel's FIN.
        process.send_signal(sig)
        process.wait(10)
    return {"ok": True}


serve({"connect": connect, "subscribe": subscribe, "publish": publish, "receive": receive,
       "disconnect": lambda c: stop(c, signal.SIGINT),
       "drop": lambda c: stop(c, signal.SIGKILL)})
# A test that failed half-way leaves connections open; they must not outlive it.
for leftover in list(connections):
    stop({"name": leftover}, signal.SIGKILL)
