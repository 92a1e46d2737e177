"""Sparkplug B payloads for the tests and the benchmark: Python code that protoc makes
from moat's policy/payload/sparkplug_b.proto at test time (never committed), so the
tests speak the very message moat checks against."""

import importlib
import os
import subprocess
import sys
import tempfile
import time

from harness import REPO

PROTO_DIR = os.path.join(REPO, "policy", "payload")
_module = None


def pb2():
    """The generated module (sparkplug_b_pb2), made once per test process."""
    global _module
    if _module is None:
        out = tempfile.mkdtemp(prefix="moat-sparkplug-py-")
        subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", f"--python_out={out}",
                        os.path.join(PROTO_DIR, "sparkplug_b.proto")], check=True)
        sys.path.insert(0, out)
        _module = importlib.import_module("sparkplug_b_pb2")
    return _module


def now_ms():
    return int(time.time() * 1000)


def payload(seq=None, metrics=(), timestamp=None):
    """A Payload with a timestamp, `seq` (None: left out, as in NDEATH) and metrics given
    as (name, datatype name, value); serialized."""
    pb = pb2()
    message = pb.Payload()
    message.timestamp = timestamp if timestamp is not None else now_ms()
    if seq is not None:
        message.seq = seq
    for name, datatype, value in metrics:
        metric = message.metrics.add()
        metric.name = name
        metric.timestamp = message.timestamp
        metric.datatype = pb.DataType.Value(datatype)
        field = {"Int64": "long_value", "UInt64": "long_value", "Int32": "int_value",
                 "Double": "double_value", "Float": "float_value", "Boolean": "boolean_value",
                 "String": "string_value"}[datatype]
        setattr(metric, field, value)
    return message.SerializeToString()


def decode(data):
    message = pb2().Payload()
    message.ParseFromString(data)
    return message


def metric_values(data):
    """name -> value of the metrics in a serialized Payload."""
    values = {}
    for metric in decode(data).metrics:
        field = metric.WhichOneof("value")
        values[metric.name] = getattr(metric, field) if field else None
    return values
