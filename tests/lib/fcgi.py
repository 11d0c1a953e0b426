# SPDX-License-Identifier: ISC
"""fcgi.py - a minimal FastCGI client for the tests: talks to a responder's
unix socket directly, without a web server, so that a test can hold a
responder busy on purpose (send a request in two halves) or run a unit's
command line alone."""

import socket
import struct

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(kind, body, req_id=1):
    return struct.pack("!BBHHBx", 1, kind, req_id, len(body), 0) + body


def _pair(k, v):
    k, v = k.encode(), v.encode()

    def n(x):
        return bytes([len(x)]) if len(x) < 128 else struct.pack("!I", len(x) | 0x80000000)
    return n(k) + n(v) + k + v


def request(method, path, body=b"", content_type="", head_params=None):
    """The records of one request, split in two halves: (head, rest).  A
    responder that got only the head waits for the rest, busy.  The head
    holds every parameter, or only the first head_params of them (the
    others in a second PARAMS record of the rest)."""
    params = [_pair(k, v) for k, v in (
        ("REQUEST_METHOD", method), ("REQUEST_URI", path), ("SCRIPT_NAME", path),
        ("QUERY_STRING", ""), ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("CONTENT_TYPE", content_type), ("CONTENT_LENGTH", str(len(body)) if body else ""))]
    cut = len(params) if head_params is None else head_params
    head = record(BEGIN, struct.pack("!HB5x", 1, 0)) + record(PARAMS, b"".join(params[:cut]))
    rest = (record(PARAMS, b"".join(params[cut:])) if cut < len(params) else b"") + \
        record(PARAMS, b"") + (record(STDIN, body) if body else b"") + record(STDIN, b"")
    return head, rest


def connect(sock_path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    return s


def parts(sock_path, method, path):
    """(header block, body) of one whole request's answer."""
    out = call(sock_path, method, path)
    if "\r\n\r\n" not in out:
        raise AssertionError("%s %s: no header block in %r" % (method, path, out[:200]))
    return tuple(out.split("\r\n\r\n", 1))


def read_reply(s):
    """The responder's stdout for one request (up to END_REQUEST)."""
    out, buf = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out.decode()
        buf += chunk
        while len(buf) >= 8:
            _, kind, _, n, pad = struct.unpack("!BBHHBx", buf[:8])
            if len(buf) < 8 + n + pad:
                break
            if kind == STDOUT:
                out += buf[8:8 + n]
            buf = buf[8 + n + pad:]
            if kind == END:
                return out.decode()


def call(sock_path, method, path, body=b"", content_type="", timeout=10):
    """One whole request; returns the raw reply ("Status: 200 OK\\r\\n...")."""
    head, rest = request(method, path, body, content_type)
    s = connect(sock_path, timeout)
    try:
        s.sendall(head + rest)
        return read_reply(s)
    finally:
        s.close()
