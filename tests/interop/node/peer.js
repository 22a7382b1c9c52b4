#!/usr/bin/env node
// peer.js is the node side of sluice's interop tests: it runs WebSocket
// clients and servers of two third-party libraries, npm `ws` (lib "ws") and
// npm `websocket` (WebSocket-Node, lib "websocket"), as the Go test asks.
//
// Control protocol (JSON lines; the same for python/peer.py and
// chromium/peer.html): the first line on stdout is
//   {"ready":true,"peer":"node","versions":{...}}
// then every request line on stdin, {"id":N,"op":"...",...}, gets one answer
// line {"id":N,"ok":true,...} or {"id":N,"ok":false,"error":"..."}. Requests
// run concurrently. Payloads travel base64-encoded in "data" and "frames".
//
//   connect {lib,url,protocols,compress}   -> {conn,protocol,extensions}
//   listen  {lib,protocols,compress}       -> {server,port}
//   accept  {server,path}                  -> {conn,protocol,extensions}
//   send    {conn,type,data}               one message
//   send    {conn,type,frames,fin,raw}     one frame per element, the first
//                                          with type, the rest continuations;
//                                          fin:false leaves the last unfinished
//   recv    {conn}                         -> {type,data}
//   echo    {conn}                         sends the next message back as it
//                                          came -> {type,size,sha256}: big
//                                          payloads need not cross this channel
//   ping    {conn,data}                    -> {data} (the pong's payload)
//   close   {conn,code,reason}             starts the closing handshake
//   closed  {conn}                         -> {code,reason} as this side saw them
//   kill    {conn}                         drops the TCP connection, no close frame
//
// Text arrives as bytes ("raw": true skips any conversion, so invalid UTF-8
// can be sent). Waits are bounded by WAIT_MS, or by a request's "wait_ms";
// the script exits when stdin closes. WAIT_MS is 10 s unless the command
// line says "-wait-ms N": the Go tests pass the time left until their run's
// deadline, so that no wait here ends while the code under test is right,
// however slow the machine.
//
// permessage-deflate (RFC 7692) is off unless the request has "compress":
// an object whose keys are the RFC's parameter names,
//   {server_no_context_takeover, client_no_context_takeover,
//    server_max_window_bits, client_max_window_bits}
// (client_max_window_bits may be true: the parameter without a value),
// mapped to the library's own options; {} is the library's defaults. A
// client offers what they say, a server answers with them. "extensions" in
// an answer is the Sec-WebSocket-Extensions value of the handshake
// response, as this side sent or received it ("" when there was none).
'use strict';

const crypto = require('crypto');
const http = require('http');
const readline = require('readline');
const WS = require('ws');
const WebSocketNode = require('websocket');
const WebSocketFrame = require('websocket/lib/WebSocketFrame');

const WAIT_MS = (() => {
  const i = process.argv.indexOf('-wait-ms');
  const ms = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(ms) && ms > 0 ? ms : 10000;
})();
const MAX_SIZE = 64 << 20;

// --- connection bookkeeping --------------------------------------------------

// Peer is one WebSocket connection, whatever the library: it queues what
// arrives so that recv, ping and closed can wait for it.
class Peer {
  constructor(lib, protocol, extensions) {
    this.lib = lib;
    this.protocol = protocol || '';
    this.extensions = extensions || '';
    this.messages = [];
    this.pongs = [];
    this.closeInfo = null;
    this.waiters = new Set();
  }

  push(kind, v) {
    if (kind === 'message') this.messages.push(v);
    if (kind === 'pong') this.pongs.push(v);
    if (kind === 'close' && !this.closeInfo) this.closeInfo = v;
    for (const w of [...this.waiters]) w();
  }

  // waitFor resolves with pick()'s first non-undefined result.
  waitFor(what, pick, ms) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = pick();
        if (v === undefined) return false;
        cleanup();
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timeout waiting for ${what}`));
      }, ms || WAIT_MS);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      if (!check()) this.waiters.add(check);
    });
  }
}

const conns = new Map();
const servers = new Map();
let nextId = 1;

function register(p) {
  const id = nextId++;
  conns.set(id, p);
  return id;
}

function conn(id) {
  const p = conns.get(id);
  if (!p) throw new Error(`no connection ${id}`);
  return p;
}

// --- npm ws ------------------------------------------------------------------

function wrapWS(ws, extensions) {
  const p = new Peer('ws', ws.protocol, extensions);
  p.ws = ws;
  ws.on('message', (data, isBinary) => {
    p.push('message', { type: isBinary ? 'binary' : 'text', data: Buffer.from(data) });
  });
  ws.on('pong', (data) => p.push('pong', Buffer.from(data)));
  ws.on('close', (code, reason) => p.push('close', { code, reason: reason.toString('utf8') }));
  ws.on('error', (err) => process.stderr.write(`ws error: ${err.message}\n`));
  p.send = (type, frames, fin, raw) => {
    frames.forEach((f, i) => {
      const last = i === frames.length - 1;
      p.ws.send(f, { binary: type === 'binary', fin: last && fin });
    });
  };
  p.ping = (data) => ws.ping(data);
  p.close = (code, reason) => (code ? ws.close(code, reason) : ws.close());
  p.kill = () => ws.terminate();
  return p;
}

// wsDeflate maps "compress" to ws's perMessageDeflate option. Its threshold
// stays the default (1024 bytes, applied only without context takeover).
function wsDeflate(c) {
  if (!c) return false;
  const o = {};
  if (c.server_no_context_takeover) o.serverNoContextTakeover = true;
  if (c.client_no_context_takeover) o.clientNoContextTakeover = true;
  if (c.server_max_window_bits !== undefined) o.serverMaxWindowBits = c.server_max_window_bits;
  if (c.client_max_window_bits !== undefined) o.clientMaxWindowBits = c.client_max_window_bits;
  return o;
}

function wsOptions(req) {
  return { perMessageDeflate: wsDeflate(req.compress), maxPayload: MAX_SIZE };
}

function connectWS(req) {
  return new Promise((resolve, reject) => {
    const ws = new WS(req.url, req.protocols || [], wsOptions(req));
    let extensions = '';
    ws.once('upgrade', (res) => {
      extensions = res.headers['sec-websocket-extensions'] || '';
    });
    ws.once('open', () => resolve(wrapWS(ws, extensions)));
    ws.once('error', reject);
  });
}

function listenWS(req) {
  return new Promise((resolve, reject) => {
    const srv = new WS.Server({
      host: '127.0.0.1',
      port: 0,
      ...wsOptions(req),
      handleProtocols: (offered) => pickProtocol(req.protocols, [...offered]) || false,
    });
    const s = newServer();
    // 'headers' comes before 'connection' for the same request.
    const sent = new WeakMap();
    srv.on('headers', (headers, httpReq) => {
      const h = headers.find((l) => /^sec-websocket-extensions:/i.test(l));
      sent.set(httpReq, h ? h.slice(h.indexOf(':') + 1).trim() : '');
    });
    srv.on('connection', (ws, httpReq) => s.arrive(httpReq.url, wrapWS(ws, sent.get(httpReq))));
    srv.once('listening', () => resolve({ s, port: srv.address().port }));
    srv.once('error', reject);
  });
}

// --- npm websocket (WebSocket-Node) -----------------------------------------

function wsnodeConfig(req) {
  if (req.compress) throw new Error('websocket (WebSocket-Node) has no permessage-deflate');
  return {
    maxReceivedFrameSize: MAX_SIZE,
    maxReceivedMessageSize: MAX_SIZE,
    fragmentOutgoingMessages: false,
    closeTimeout: WAIT_MS,
  };
}

function wrapWSNode(c, extensions) {
  const p = new Peer('websocket', c.protocol, extensions);
  p.c = c;
  c.on('message', (m) => {
    if (m.type === 'utf8') p.push('message', { type: 'text', data: Buffer.from(m.utf8Data, 'utf8') });
    else p.push('message', { type: 'binary', data: Buffer.from(m.binaryData) });
  });
  c.on('pong', (data) => p.push('pong', Buffer.from(data)));
  c.on('close', (code, description) => p.push('close', { code, reason: description || '' }));
  c.on('error', (err) => process.stderr.write(`websocket error: ${err.message}\n`));
  p.send = (type, frames, fin, raw) => {
    if (frames.length === 1 && fin && !raw) {
      if (type === 'binary') c.sendBytes(frames[0]);
      else c.sendUTF(frames[0].toString('utf8'));
      return;
    }
    // Frame by frame: the library's own fragmentation only splits by size,
    // and sendUTF would replace invalid UTF-8.
    frames.forEach((f, i) => {
      const frame = new WebSocketFrame(c.maskBytes, c.frameHeader, c.config);
      frame.opcode = i === 0 ? (type === 'binary' ? 0x02 : 0x01) : 0x00;
      frame.fin = i === frames.length - 1 && fin;
      frame.binaryPayload = f;
      c.sendFrame(frame);
    });
  };
  p.ping = (data) => c.ping(data);
  p.close = (code, reason) => c.close(code || 1000, reason);
  p.kill = () => c.socket.destroy();
  return p;
}

function connectWSNode(req) {
  return new Promise((resolve, reject) => {
    const client = new WebSocketNode.client(wsnodeConfig(req));
    client.once('connect', (c) => resolve(wrapWSNode(c, client.response.headers['sec-websocket-extensions'])));
    client.once('connectFailed', reject);
    const protocols = req.protocols && req.protocols.length ? req.protocols : null;
    client.connect(req.url, protocols);
  });
}

function listenWSNode(req) {
  return new Promise((resolve, reject) => {
    const hs = http.createServer((_, res) => {
      res.writeHead(404);
      res.end();
    });
    const srv = new WebSocketNode.server({
      httpServer: hs,
      autoAcceptConnections: false,
      ...wsnodeConfig(req),
    });
    const s = newServer();
    srv.on('request', (r) => {
      const protocol = pickProtocol(req.protocols, r.requestedProtocols);
      const c = r.accept(protocol, r.origin);
      s.arrive(r.resource, wrapWSNode(c));
    });
    hs.listen(0, '127.0.0.1', () => resolve({ s, port: hs.address().port }));
    hs.once('error', reject);
  });
}

// --- servers -----------------------------------------------------------------

// pickProtocol chooses the first of the server's protocols the client offered.
function pickProtocol(supported, offered) {
  return (supported || []).find((p) => offered.includes(p)) || null;
}

// newServer keeps accepted connections by request path until accept asks.
function newServer() {
  const s = { byPath: new Map(), waiters: new Map() };
  s.arrive = (path, p) => {
    const w = s.waiters.get(path);
    if (w) {
      s.waiters.delete(path);
      w(p);
    } else {
      s.byPath.set(path, p);
    }
  };
  s.accept = (path) =>
    new Promise((resolve, reject) => {
      const p = s.byPath.get(path);
      if (p) {
        s.byPath.delete(path);
        resolve(p);
        return;
      }
      const timer = setTimeout(() => {
        s.waiters.delete(path);
        reject(new Error(`timeout waiting for a connection to ${path}`));
      }, WAIT_MS);
      s.waiters.set(path, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  return s;
}

// --- requests ----------------------------------------------------------------

const libs = {
  ws: { connect: connectWS, listen: listenWS },
  websocket: { connect: connectWSNode, listen: listenWSNode },
};

function lib(name) {
  const l = libs[name];
  if (!l) throw new Error(`unknown lib ${name}`);
  return l;
}

const b64 = (s) => Buffer.from(s || '', 'base64');

async function handle(req) {
  switch (req.op) {
    case 'connect': {
      const p = await lib(req.lib).connect(req);
      return { conn: register(p), protocol: p.protocol, extensions: p.extensions };
    }
    case 'listen': {
      const { s, port } = await lib(req.lib).listen(req);
      const id = nextId++;
      servers.set(id, s);
      return { server: id, port };
    }
    case 'accept': {
      const s = servers.get(req.server);
      if (!s) throw new Error(`no server ${req.server}`);
      const p = await s.accept(req.path);
      return { conn: register(p), protocol: p.protocol, extensions: p.extensions };
    }
    case 'send': {
      const frames = req.frames ? req.frames.map(b64) : [b64(req.data)];
      conn(req.conn).send(req.type, frames, req.fin !== false, !!req.raw);
      return {};
    }
    case 'recv': {
      const p = conn(req.conn);
      const m = await p.waitFor('a message', () => p.messages.shift() || (p.closeInfo ? null : undefined));
      if (m === null) throw new Error(`closed (${p.closeInfo.code} ${p.closeInfo.reason}) before a message arrived`);
      return { type: m.type, data: m.data.toString('base64') };
    }
    case 'echo': {
      const p = conn(req.conn);
      const m = await p.waitFor('a message', () => p.messages.shift() || (p.closeInfo ? null : undefined));
      if (m === null) throw new Error(`closed (${p.closeInfo.code} ${p.closeInfo.reason}) before a message arrived`);
      p.send(m.type, [m.data], true, false);
      return { type: m.type, size: m.data.length, sha256: crypto.createHash('sha256').update(m.data).digest('hex') };
    }
    case 'ping': {
      const p = conn(req.conn);
      const want = b64(req.data);
      p.ping(want);
      const got = await p.waitFor('the pong', () => {
        const i = p.pongs.findIndex((d) => d.equals(want));
        return i < 0 ? undefined : p.pongs.splice(i, 1)[0];
      }, req.wait_ms);
      return { data: got.toString('base64') };
    }
    case 'close':
      conn(req.conn).close(req.code, req.reason);
      return {};
    case 'closed': {
      const p = conn(req.conn);
      return await p.waitFor('the close', () => p.closeInfo || undefined);
    }
    case 'kill':
      conn(req.conn).kill();
      return {};
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function version(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch (e) {
    return 'unknown';
  }
}

reply({
  ready: true,
  peer: 'node',
  versions: { node: process.versions.node, ws: version('ws'), websocket: version('websocket') },
});

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    process.stderr.write(`bad request line: ${e.message}\n`);
    return;
  }
  handle(req).then(
    (res) => reply({ id: req.id, ok: true, ...res }),
    (err) => reply({ id: req.id, ok: false, error: String((err && err.message) || err) }),
  );
});
rl.on('close', () => process.exit(0));
