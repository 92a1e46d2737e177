#!/usr/bin/env python3
"""Writes fuzz/corpus/decoder/: valid MQTT packets of every type for 3.1, 3.1.1 and 5.0.

Each file is one fuzz input: a selector byte (see fuzz/fuzz_stream.h) and then the bytes
the decoder receives. Client-to-server seeds start from an unknown version and open with
the CONNECT that teaches it; server-to-client seeds are told their version. The packets
are assembled by hand from the spec rather than by moat's encoder, so a shared
misreading of the spec cannot hide in both. Rerun after changing the selector layout:

    python3 fuzz/make_seed_corpus.py
"""

import pathlib
import shutil
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "decoder"

V31, V311, V5 = 3, 4, 5
VERSION_NAMES = {V31: "v31", V311: "v311", V5: "v5"}
VERSION_BITS = {0: 0, V31: 1, V311: 2, V5: 3}  # selector bits 0-1
C2S, S2C = 0, 1


def selector(version, direction, zero_copy=False, chunk_index=0):
    return bytes([VERSION_BITS[version] | direction << 2 | int(zero_copy) << 3 |
                  chunk_index << 4])


# Wire primitives (spec 1.5).
def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def string(s):
    data = s.encode() if isinstance(s, str) else s
    return u16(len(data)) + data


def packet(type_, flags, body):
    return bytes([type_ << 4 | flags]) + varint(len(body)) + body


# MQTT 5 properties (spec 2.2.2.2), written as (id, encoded value) pairs.
def p_byte(pid, v):
    return bytes([pid, v])


def p_u16(pid, v):
    return bytes([pid]) + u16(v)


def p_u32(pid, v):
    return bytes([pid]) + u32(v)


def p_varint(pid, v):
    return bytes([pid]) + varint(v)


def p_str(pid, s):
    return bytes([pid]) + string(s)


def p_user(name, value):
    return bytes([0x26]) + string(name) + string(value)


def props(*items):
    body = b"".join(items)
    return varint(len(body)) + body


def props_if(version, *items):
    return props(*items) if version == V5 else b""


# Packets. Each takes the version and returns the whole packet.
def connect(version, client_id="moat-seed", will=False, username=None, password=None,
            keep_alive=60, clean=True, auth_method=None):
    name = "MQIsdp" if version == V31 else "MQTT"
    flags = (int(clean) << 1 | int(will) << 2 | (1 << 3 if will else 0) |
             (1 << 5 if will else 0) | int(password is not None) << 6 |
             int(username is not None) << 7)
    body = string(name) + bytes([version, flags]) + u16(keep_alive)
    if version == V5:
        items = [p_u32(0x11, 300), p_u16(0x21, 20), p_u16(0x22, 10), p_u32(0x27, 65536),
                 p_byte(0x17, 1), p_byte(0x19, 0), p_user("region", "eu")]
        if auth_method:
            items += [p_str(0x15, auth_method), p_str(0x16, b"\x01\x02")]
        body += props(*items)
    body += string(client_id)
    if will:
        if version == V5:
            body += props(p_u32(0x18, 5), p_byte(0x01, 1), p_u32(0x02, 3600),
                          p_str(0x03, "text/plain"), p_str(0x08, "will/reply"),
                          p_str(0x09, b"\x00corr"), p_user("k", "v"))
        body += string("clients/moat-seed/state") + string(b"offline")
    if username is not None:
        body += string(username)
    if password is not None:
        body += string(password)
    return packet(1, 0, body)


def connack(version, session_present=False, code=0):
    body = bytes([int(session_present), code])
    if version == V5:
        body += props(p_u32(0x11, 300), p_str(0x12, "auto-1"), p_u16(0x13, 30),
                      p_str(0x1A, "resp/"), p_u16(0x21, 100), p_u16(0x22, 10),
                      p_byte(0x24, 1), p_byte(0x25, 1), p_u32(0x27, 1 << 20),
                      p_byte(0x28, 1), p_byte(0x29, 1), p_byte(0x2A, 0),
                      p_str(0x1F, "welcome"), p_user("server", "moat-seed"))
    return packet(2, 0, body)


def publish(version, direction, qos=0, retain=False, dup=False, topic="sensors/t1",
            payload=b"21.5", packet_id=7, alias=None):
    body = string(topic)
    if qos:
        body += u16(packet_id)
    if version == V5:
        items = [p_byte(0x01, 1), p_u32(0x02, 60), p_str(0x03, "text/plain"),
                 p_str(0x08, "sensors/t1/reply"), p_str(0x09, b"\x01\x02\x03"),
                 p_user("unit", "C")]
        if alias is not None:
            items.append(p_u16(0x23, alias))
        if direction == S2C:  # a client must not send one [MQTT-3.3.4-6]
            items.append(p_varint(0x0B, 200))
        body += props(*items)
    body += payload
    return packet(3, int(dup) << 3 | qos << 1 | int(retain), body)


def pub_response(version, type_, packet_id=7, code=0, full=True):
    body = u16(packet_id)
    if version == V5 and full:
        body += bytes([code]) + props(p_str(0x1F, "ok"), p_user("a", "b"))
    return packet(type_, 0x2 if type_ == 6 else 0, body)


def subscribe(version):
    entries = [("sensors/+/t", 0), ("alerts/#", 1), ("cmd/moat-seed", 2)]
    body = u16(11) + props_if(version, p_varint(0x0B, 42), p_user("a", "b"))
    for i, (topic, qos) in enumerate(entries):
        options = qos
        if version == V5:  # no local, retain as published, retain handling 0..2
            options |= (i == 2) << 2 | (i == 1) << 3 | i << 4
        body += string(topic) + bytes([options])
    if version == V5:
        body += string("$share/group/jobs/#") + bytes([1])
    return packet(8, 0x2, body)


def suback(version):
    codes = [0, 1, 2] + ([0x80] if version != V31 else [])
    if version == V5:
        codes += [0x87]
    return packet(9, 0, u16(11) + props_if(version, p_str(0x1F, "partial"),
                                           p_user("a", "b")) + bytes(codes))


def unsubscribe(version):
    body = u16(12) + props_if(version, p_user("a", "b"))
    body += string("sensors/+/t") + string("alerts/#")
    return packet(10, 0x2, body)


def unsuback(version):
    body = u16(12)
    if version == V5:
        body += props(p_str(0x1F, "done"), p_user("a", "b")) + bytes([0x00, 0x11])
    return packet(11, 0, body)


def pingreq(version):
    return packet(12, 0, b"")


def pingresp(version):
    return packet(13, 0, b"")


def disconnect(version, direction=C2S):
    if version != V5:
        return packet(14, 0, b"")
    if direction == S2C:
        return packet(14, 0, bytes([0x8B]) + props(p_str(0x1F, "shutting down"),
                                                   p_str(0x1C, "other.example:1883"),
                                                   p_user("a", "b")))
    return packet(14, 0, bytes([0x04]) + props(p_u32(0x11, 0), p_str(0x1F, "bye"),
                                               p_user("a", "b")))


def auth(version, code=0x18):
    return packet(15, 0, bytes([code]) + props(p_str(0x15, "SCRAM-SHA-256"),
                                               p_str(0x16, b"\x00\xffchallenge"),
                                               p_str(0x1F, "continue"), p_user("a", "b")))


def client_packets(v):
    """Every packet a client may send after CONNECT, keyed by a file-name stem."""
    seeds = {
        "publish-qos0": publish(v, C2S),
        "publish-qos1-retain": publish(v, C2S, qos=1, retain=True),
        "publish-qos2-dup": publish(v, C2S, qos=2, dup=True),
        "publish-empty-payload": publish(v, C2S, payload=b""),
        "publish-binary-4k": publish(v, C2S, qos=1, payload=bytes(range(256)) * 16),
        "puback": pub_response(v, 4),
        "pubrec": pub_response(v, 5),
        "pubrel": pub_response(v, 6),
        "pubcomp": pub_response(v, 7),
        "subscribe": subscribe(v),
        "unsubscribe": unsubscribe(v),
        "pingreq": pingreq(v),
        "disconnect": disconnect(v),
    }
    if v == V5:
        seeds["publish-topic-alias"] = publish(v, C2S, alias=3)
        seeds["publish-alias-only"] = publish(v, C2S, topic="", alias=3)
        seeds["puback-short"] = pub_response(v, 4, full=False)
        seeds["puback-no-subscribers"] = pub_response(v, 4, code=0x10)
        seeds["auth"] = auth(v)
    return seeds


def server_packets(v):
    seeds = {
        "connack": connack(v),
        "connack-session-present": connack(v, session_present=True),
        "connack-refused": connack(v, code=0x87 if v == V5 else 5),
        "publish-qos0": publish(v, S2C),
        "publish-qos1": publish(v, S2C, qos=1),
        "publish-qos2-retain": publish(v, S2C, qos=2, retain=True),
        "puback": pub_response(v, 4),
        "pubrec": pub_response(v, 5),
        "pubrel": pub_response(v, 6),
        "pubcomp": pub_response(v, 7),
        "suback": suback(v),
        "unsuback": unsuback(v),
        "pingresp": pingresp(v),
    }
    if v == V5:
        seeds["disconnect"] = disconnect(v, S2C)
        seeds["auth"] = auth(v, code=0x00)
    return seeds


def connects(v):
    seeds = {
        "connect-minimal": connect(v),
        "connect-credentials": connect(v, username="alice", password=b"s3cr\x00t"),
        "connect-will": connect(v, will=True, username="alice", password=b"pw"),
        "connect-persistent": connect(v, clean=False, keep_alive=0),
    }
    if v == V311 or v == V5:  # 3.1 requires a client identifier
        seeds["connect-empty-client-id"] = connect(v, client_id="")
    if v == V5:
        seeds["connect-enhanced-auth"] = connect(v, auth_method="SCRAM-SHA-256")
        seeds["connect-password-only"] = connect(v, password=b"token")
    return seeds


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    files = {}
    for v in (V31, V311, V5):
        name = VERSION_NAMES[v]
        opening = connect(v)
        for stem, data in connects(v).items():
            files[f"{name}-c2s-{stem}"] = selector(0, C2S) + data
        for stem, data in client_packets(v).items():
            files[f"{name}-c2s-{stem}"] = selector(0, C2S) + opening + data
        for stem, data in server_packets(v).items():
            files[f"{name}-s2c-{stem}"] = selector(v, S2C) + data
        # Whole conversations, fed in awkward chunk sizes and through both write paths,
        # so the seeds already reach the streaming code.
        c2s = opening + b"".join(client_packets(v).values())
        s2c = b"".join(server_packets(v).values())
        files[f"{name}-c2s-session-whole"] = selector(0, C2S) + c2s
        files[f"{name}-c2s-session-bytewise"] = selector(0, C2S, chunk_index=1) + c2s
        files[f"{name}-c2s-session-chunk7"] = selector(0, C2S, True, chunk_index=6) + c2s
        files[f"{name}-s2c-session-whole"] = selector(v, S2C) + s2c
        files[f"{name}-s2c-session-bytewise"] = selector(v, S2C, True, chunk_index=1) + s2c
        files[f"{name}-s2c-session-chunk13"] = selector(v, S2C, chunk_index=8) + s2c
    for file_name, data in sorted(files.items()):
        (OUT / file_name).write_bytes(data)
    print(f"wrote {len(files)} seeds to {OUT}")


if __name__ == "__main__":
    main()
