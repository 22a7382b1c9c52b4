#!/usr/bin/python3
"""peer.py is the Python side of sluice's interop tests: WebSocket clients
and servers of the `websockets` library (lib "websockets"), driven by the Go
test over the JSON-lines control protocol that node/peer.js documents.

It uses the legacy asyncio API (websockets.legacy.client/server): that is
the whole API of websockets 10.x, which Debian bookworm ships as
python3-websockets (10.4), and later versions keep it (deprecated) beside
the new websockets.asyncio API. Run it with Debian's /usr/bin/python3, which
sees /usr/lib/python3/dist-packages.

permessage-deflate is off unless a request sets "compress" (see
node/peer.js): {} is the library's default (compression="deflate": a
client offers client_max_window_bits without a value, a server answers
server_max_window_bits=12 and, when offered, client_max_window_bits=12); any
other object becomes extensions=[Client|ServerPerMessageDeflateFactory(...)]
with exactly those RFC 7692 parameters and the library's default memLevel 5.

Known limit (zlib, not websockets or the Go side): CPython's
zlib.compressobj refuses wbits=-8 ("Invalid initialization option"), so a
websockets end that must compress with client_max_window_bits=8 (a client
offering it) or server_max_window_bits=8 (a server configured with it)
cannot be set up at all; Node and Chromium quietly compress with 9 bits
instead. Inflating with 8 bits works.
"""

import asyncio
import base64
import hashlib
import json
import sys
import threading
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.legacy.client import connect as ws_connect  # noqa: E402
from websockets.legacy.server import serve as ws_serve  # noqa: E402

# WAIT bounds every wait, in seconds: 10 unless the command line says
# "--wait-ms N". The Go tests pass the time left until their run's deadline,
# so that no wait here ends while the code under test is right, however slow
# the machine.
WAIT = 10.0
if "--wait-ms" in sys.argv[1:-1]:
    WAIT = max(float(sys.argv[sys.argv.index("--wait-ms") + 1]) / 1000, 1.0)
MAX_SIZE = 64 << 20
OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2


DEFLATE_PARAMS = (
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
)


def options(req, factory):
    opts = dict(
        compression=None,
        subprotocols=req.get("protocols") or None,
        ping_interval=None,
        max_size=MAX_SIZE,
        max_queue=None,
        close_timeout=WAIT,
    )
    c = req.get("compress")
    if c == {}:
        opts["compression"] = "deflate"
    elif c:
        unknown = set(c) - set(DEFLATE_PARAMS)
        if unknown:
            raise RuntimeError("unknown compress options %s" % sorted(unknown))
        opts["extensions"] = [factory(compress_settings={"memLevel": 5}, **c)]
    return opts


def extensions(ws):
    """The Sec-WebSocket-Extensions of the handshake response."""
    return ws.response_headers.get("Sec-WebSocket-Extensions", "")


class Peer:
    """One connection: a reader task queues what arrives."""

    def __init__(self, ws):
        self.ws = ws
        self.messages = asyncio.Queue()
        self.reader = asyncio.get_running_loop().create_task(self.read())

    async def read(self):
        try:
            async for m in self.ws:
                if isinstance(m, str):
                    await self.messages.put(("text", m.encode("utf-8")))
                else:
                    await self.messages.put(("binary", bytes(m)))
        except ConnectionClosed:
            pass
        await self.messages.put(None)

    async def recv(self):
        m = await asyncio.wait_for(self.messages.get(), WAIT)
        if m is None:
            await self.messages.put(None)  # keep reporting the close
            raise RuntimeError(
                "closed (%s %s) before a message arrived" % (self.ws.close_code, self.ws.close_reason)
            )
        return m

    async def send(self, typ, frames, fin, raw):
        if len(frames) == 1 and fin and not raw:
            await self.ws.send(frames[0] if typ == "binary" else frames[0].decode("utf-8"))
            return
        # Frame by frame, so that a message can be left unfinished and text
        # can be invalid UTF-8: write_frame sends the bytes as they are.
        for i, f in enumerate(frames):
            op = (OP_BINARY if typ == "binary" else OP_TEXT) if i == 0 else OP_CONT
            await self.ws.write_frame(i == len(frames) - 1 and fin, op, f)


class Server:
    """Accepted connections, kept by request path until accept asks."""

    def __init__(self):
        self.arrived = {}  # path -> asyncio.Future of Peer

    def slot(self, path):
        return self.arrived.setdefault(path, asyncio.get_running_loop().create_future())

    async def handler(self, ws):
        p = Peer(ws)
        self.slot(ws.path).set_result(p)
        await ws.wait_closed()
        await p.reader


conns = {}
servers = {}
next_id = [1]


def new_id():
    i = next_id[0]
    next_id[0] += 1
    return i


def conn(req):
    p = conns.get(req["conn"])
    if p is None:
        raise RuntimeError("no connection %s" % req["conn"])
    return p


def b64(s):
    return base64.b64decode(s or "")


def check_lib(req):
    if req.get("lib") != "websockets":
        raise RuntimeError("unknown lib %s" % req.get("lib"))


async def handle(req):
    op = req["op"]
    if op == "connect":
        check_lib(req)
        ws = await asyncio.wait_for(ws_connect(req["url"], **options(req, ClientPerMessageDeflateFactory)), WAIT)
        i = new_id()
        conns[i] = Peer(ws)
        return {"conn": i, "protocol": ws.subprotocol or "", "extensions": extensions(ws)}
    if op == "listen":
        check_lib(req)
        s = Server()
        srv = await ws_serve(s.handler, "127.0.0.1", 0, **options(req, ServerPerMessageDeflateFactory))
        s.srv = srv
        i = new_id()
        servers[i] = s
        return {"server": i, "port": srv.sockets[0].getsockname()[1]}
    if op == "accept":
        s = servers.get(req["server"])
        if s is None:
            raise RuntimeError("no server %s" % req["server"])
        fut = s.slot(req["path"])
        p = await asyncio.wait_for(asyncio.shield(fut), WAIT)
        del s.arrived[req["path"]]
        i = new_id()
        conns[i] = p
        return {"conn": i, "protocol": p.ws.subprotocol or "", "extensions": extensions(p.ws)}
    if op == "send":
        frames = [b64(f) for f in req["frames"]] if "frames" in req else [b64(req.get("data"))]
        await conn(req).send(req["type"], frames, req.get("fin", True), req.get("raw", False))
        return {}
    if op == "recv":
        typ, data = await conn(req).recv()
        return {"type": typ, "data": base64.b64encode(data).decode()}
    if op == "echo":
        p = conn(req)
        typ, data = await p.recv()
        await p.send(typ, [data], True, False)
        return {"type": typ, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if op == "ping":
        want = b64(req.get("data"))
        waiter = await conn(req).ws.ping(want)
        await asyncio.wait_for(waiter, (req.get("wait_ms") or WAIT * 1000) / 1000)
        # The legacy API resolves the waiter when the pong that echoes this
        # payload arrives (or one of a later ping; there is none here).
        return {"data": base64.b64encode(want).decode()}
    if op == "close":
        p = conn(req)
        code = req.get("code") or 1000
        # close() waits for the whole closing handshake; run it apart.
        asyncio.get_running_loop().create_task(p.ws.close(code, req.get("reason", "")))
        return {}
    if op == "closed":
        ws = conn(req).ws
        await asyncio.wait_for(ws.wait_closed(), WAIT)
        return {"code": ws.close_code, "reason": ws.close_reason or ""}
    if op == "kill":
        conn(req).ws.transport.abort()
        return {}
    raise RuntimeError("unknown op %s" % op)


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def serve_request(req):
    try:
        res = await handle(req)
        res.update(id=req.get("id"), ok=True)
    except Exception as e:  # report every failure to the Go side
        res = {"id": req.get("id"), "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    reply(res)


async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    tasks = set()

    def spawn(line):
        try:
            req = json.loads(line)
        except ValueError as e:
            sys.stderr.write("bad request line: %s\n" % e)
            return
        t = loop.create_task(serve_request(req))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    def read_stdin():
        # A thread, not asyncio's StreamReader: request lines carry 1 MiB
        # payloads, well over StreamReader's line limit.
        for line in sys.stdin.buffer:
            if line.strip():
                loop.call_soon_threadsafe(spawn, line)
        loop.call_soon_threadsafe(done.set_result, None)

    reply(
        {
            "ready": True,
            "peer": "python",
            "versions": {"python": sys.version.split()[0], "websockets": websockets.__version__},
        }
    )
    threading.Thread(target=read_stdin, daemon=True).start()
    await done


if __name__ == "__main__":
    asyncio.run(main())
