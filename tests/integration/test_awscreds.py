# SPDX-License-Identifier: ISC
"""test_awscreds.py - DynamoDB credentials from the EC2 instance metadata
service (aws_credentials = imds, shared/awscreds.c), refreshed before they
expire, with the session token signed in.

A small IMDSv2 server on loopback (PUT a token, GET the role, GET the role's
credentials, which live CRED_LIFE seconds) and a recording proxy in front of
DynamoDB Local that refuses a request signed with unknown or expired keys,
or without the session token of its key.  A consumer of our own writes
through the proxy; tickets sold before and after a refresh are all persisted
exactly once, and the proxy saw several access keys, each only while valid.
"""

import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time

import box
import persist
from box import check, eq

BASE = int(box.ENV.get("BOX_SPARE_PORT_BASE", "17100"))
MDS_PORT = BASE + 90
PROXY_PORT = BASE + 91
CRED_LIFE = 6.0        # seconds a set of credentials lives
REFRESH_S = 2          # aws_credentials_refresh_s of the consumer
LEDGER = persist.Ledger()
LOG = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "log",
                   "consumer-awscreds.log")


class Metadata:
    """The credentials handed out: a new set once the current one has less
    than CRED_LIFE / 2 left (the metadata service rotates them early)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.issued = {}       # access key -> (secret, token, expires)
        self.current = None
        self.gen = 0
        self.calls = {"token": 0, "role": 0, "creds": 0, "refused": 0}
        self.session = "imds-session-%d" % os.getpid()

    def creds(self):
        with self.lock:
            now = time.time()
            if self.current is None or self.issued[self.current][2] - now < CRED_LIFE / 2:
                self.gen += 1
                key = "ASIATEST%04d" % self.gen
                self.issued[key] = ("secret%d" % self.gen, "token-%d-%s" % (self.gen, "x" * 600),
                                    now + CRED_LIFE)
                self.current = key
            secret, token, exp = self.issued[self.current]
            return {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": self.current,
                    "SecretAccessKey": secret, "Token": token,
                    "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                    "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))}


MDS = Metadata()


class MdsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.path != "/latest/api/token" or not self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds"):
            MDS.calls["refused"] += 1
            return self.reply(400, "bad token request")
        MDS.calls["token"] += 1
        self.reply(200, MDS.session)

    def do_GET(self):
        # IMDSv2 only: every GET carries the session token
        if self.headers.get("X-aws-ec2-metadata-token") != MDS.session:
            MDS.calls["refused"] += 1
            return self.reply(401, "")
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            MDS.calls["role"] += 1
            return self.reply(200, "boxoffice-consumer\n")
        if self.path == base + "boxoffice-consumer":
            MDS.calls["creds"] += 1
            return self.reply(200, json.dumps(MDS.creds()))
        self.reply(404, "")


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []          # (time, access key, target, verdict)


REC = Recorder()
AUTH_KEY = re.compile(r"Credential=([^/]+)/")


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def refuse(self, kind, key, target):
        with REC.lock:
            REC.seen.append((time.time(), key, target, kind))
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#" + kind,
                           "message": "refused by the test proxy"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        m = AUTH_KEY.search(self.headers.get("Authorization", ""))
        key = m.group(1) if m else None
        issued = MDS.issued.get(key)
        if not m or not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return self.refuse("MissingAuthenticationTokenException", key, target)
        if issued is None:
            return self.refuse("UnrecognizedClientException", key, target)
        if self.headers.get("X-Amz-Security-Token") != issued[1]:
            return self.refuse("InvalidSignatureException", key, target)
        if "x-amz-security-token" not in self.headers.get("Authorization", "").lower():
            # the token must be signed, not only sent
            return self.refuse("IncompleteSignatureException", key, target)
        if time.time() > issued[2]:
            return self.refuse("ExpiredTokenException", key, target)
        c = http.client.HTTPConnection("127.0.0.1", box.DDB_PORT, timeout=30)
        c.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
        for h, v in self.headers.items():
            c.putheader(h, v)
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        c.close()
        with REC.lock:
            REC.seen.append((time.time(), key, target, r.status))
        self.send_response(r.status)
        for h in ("Content-Type", "x-amzn-RequestId", "x-amz-crc32"):
            if r.getheader(h):
                self.send_header(h, r.getheader(h))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


SERVERS = []
CONSUMER = None


def serve(handler, port):
    s = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    s.daemon_threads = True
    threading.Thread(target=s.serve_forever, daemon=True).start()
    SERVERS.append(s)


def setup_module():
    global CONSUMER
    box.stack("reset")
    serve(MdsHandler, MDS_PORT)
    serve(ProxyHandler, PROXY_PORT)
    persist.kill_consumer()
    env = dict(os.environ)
    env.update({"BOXOFFICE_DYNAMODB_ENDPOINT": "http://127.0.0.1:%d" % PROXY_PORT,
                "BOXOFFICE_AWS_CREDENTIALS": "imds",
                "BOXOFFICE_AWS_IMDS_ENDPOINT": "http://127.0.0.1:%d" % MDS_PORT,
                "BOXOFFICE_AWS_CREDENTIALS_REFRESH_S": str(REFRESH_S),
                "BOXOFFICE_LOG_FILE": LOG})
    # no static keys that could sign instead
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    CONSUMER = subprocess.Popen([os.path.join(box.BIN, "consumer"), "-c", box.CONF], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def teardown_module():
    if CONSUMER is not None:
        CONSUMER.send_signal(signal.SIGTERM)
        try:
            CONSUMER.wait(timeout=60)
        except subprocess.TimeoutExpired:
            CONSUMER.kill()
    for s in SERVERS:
        s.shutdown()
    persist.start_consumer()


def keys_used():
    with REC.lock:
        return [k for _, k, _, v in REC.seen if v == 200]


def test_tickets_persisted_across_credential_refreshes():
    check(CONSUMER.poll() is None, "the consumer runs with aws_credentials = imds")
    # three waves, CRED_LIFE apart: each sold under other credentials
    for wave in range(3):
        LEDGER.buy(LEDGER.seats(15), workers=4)
        box.wait_until(lambda: box.ddb_count() == len(LEDGER.sold), timeout=120,
                       what="wave %d in DynamoDB" % wave)
        if wave < 2:
            time.sleep(CRED_LIFE)
    persist.exact_check(LEDGER, timeout=180)
    check(CONSUMER.poll() is None, "the consumer still runs")
    used = keys_used()
    distinct = sorted(set(used))
    print("  requests through the proxy: %d, signed with %d access keys %s; metadata calls %r"
          % (len(used), len(distinct), distinct, MDS.calls), flush=True)
    check(len(distinct) >= 3, "access keys that signed accepted requests: %s" % distinct)
    with REC.lock:
        refused = [(k, t, v) for _, k, t, v in REC.seen if v != 200 and not isinstance(v, int)]
    eq(refused, [], "requests refused (expired, unknown key, token missing or unsigned)")
    # consumer writes (not only the table check at start) went through; an
    # order (POST /tickets is an order of one) is one TransactWriteItems
    with REC.lock:
        writes = [k for _, k, t, v in REC.seen if v == 200 and
                  t.endswith(("BatchWriteItem", "PutItem", "TransactWriteItems"))]
    check(len(set(writes)) >= 2, "write requests signed with %d keys" % len(set(writes)))
    eq(MDS.calls["refused"], 0, "metadata requests without the IMDSv2 token")
    check(MDS.calls["token"] >= 3, "IMDSv2 session tokens asked: %d" % MDS.calls["token"])


if __name__ == "__main__":
    import sys
    sys.exit(box.main(globals()))
