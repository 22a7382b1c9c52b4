// Captures permessage-deflate payloads produced by the npm "ws" package
// over 127.0.0.1 and prints them as JSON: one case per negotiated
// configuration, server-to-client (ws server, raw client) and
// client-to-server (ws client, raw server).
'use strict';
const net = require('net');
const crypto = require('crypto');
const { WebSocket, WebSocketServer } = require('ws');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function words(n, seed) {
  const vocab = ['alpha', 'beta', 'gamma', 'delta', 'user', 'message', 'channel', 'sluice', 'timestamp', 'payload', 'deflate', 'window'];
  let x = seed, out = '';
  while (out.length < n) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += vocab[x % vocab.length] + (x % 7 === 0 ? '\n' : ' ');
  }
  return out.slice(0, n);
}

function messages() {
  const json = JSON.stringify(Array.from({ length: 30 }, (_, i) => ({ id: i, user: 'user' + (i % 5), text: words(40, i + 1), ok: i % 2 === 0 })));
  const block = words(3000, 7);
  // Repeats at distances of about 3 KB and 15 KB: within 32 KiB but beyond small windows.
  const long = block + words(12000, 9) + block + words(2000, 11) + block;
  const bin = Buffer.alloc(1024);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 31) & 0xff;
  return [
    { data: Buffer.from('Hello'), binary: false },
    { data: Buffer.from(json), binary: false },
    { data: Buffer.from(json), binary: false }, // again: small with context takeover
    { data: Buffer.from(long), binary: false },
    { data: Buffer.alloc(0), binary: false },
    { data: bin, binary: true },
    { data: Buffer.from(json.slice(0, 900)), binary: false, fragments: 3 },
  ];
}

// parseFrames extracts frames from buf, unmasking payloads.
function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off], b1 = buf[off + 1];
    let len = b1 & 0x7f, hl = 2;
    if (len === 126) { if (buf.length - off < 4) break; len = buf.readUInt16BE(off + 2); hl = 4; }
    else if (len === 127) { if (buf.length - off < 10) break; len = Number(buf.readBigUInt64BE(off + 2)); hl = 10; }
    const masked = (b1 & 0x80) !== 0;
    const ml = masked ? 4 : 0;
    if (buf.length - off < hl + ml + len) break;
    const mask = buf.subarray(off + hl, off + hl + ml);
    const payload = Buffer.from(buf.subarray(off + hl + ml, off + hl + ml + len));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, payload });
    off += hl + ml + len;
  }
  return { frames, rest: buf.subarray(off) };
}

// group turns data frames into messages: fragment payloads and RSV1.
function group(frames) {
  const out = [];
  let cur = null;
  for (const f of frames) {
    if (f.opcode >= 8) continue;
    if (f.opcode !== 0) cur = { rsv1: f.rsv1, opcode: f.opcode, fragments: [] };
    cur.fragments.push(f.payload.toString('base64'));
    if (f.fin) { out.push(cur); cur = null; }
  }
  return out;
}

function sendAll(ws, msgs) {
  for (const m of msgs) {
    if (!m.fragments) { ws.send(m.data, { binary: m.binary, compress: true }); continue; }
    const step = Math.ceil(m.data.length / m.fragments);
    for (let i = 0; i < m.data.length; i += step) {
      ws.send(m.data.subarray(i, i + step), { binary: m.binary, compress: true, fin: i + step >= m.data.length });
    }
  }
}

// serverCase: a ws server with the given options, a raw client offering offer.
function serverCase(name, options, offer) {
  return new Promise((resolve, reject) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: Object.assign({ threshold: 0 }, options) });
    wss.on('connection', (ws) => { sendAll(ws, messages()); ws.close(1000); });
    wss.on('listening', () => {
      const key = crypto.randomBytes(16).toString('base64');
      const sock = net.connect(wss.address().port, '127.0.0.1');
      let buf = Buffer.alloc(0), head = null;
      sock.on('connect', () => sock.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: ' + key + '\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Extensions: ' + offer + '\r\n\r\n'));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (head === null) {
          const i = buf.indexOf('\r\n\r\n');
          if (i < 0) return;
          head = buf.subarray(0, i).toString();
          buf = buf.subarray(i + 4);
        }
        const { frames } = parseFrames(buf);
        if (!frames.some((f) => f.opcode === 8)) return;
        const ext = /sec-websocket-extensions: *(.*)/i.exec(head);
        sock.destroy();
        wss.close();
        for (const c of wss.clients) c.terminate();
        resolve({ name, direction: 'server-to-client', offer, response: ext ? ext[1].trim() : '', messages: annotate(group(frames)) });
      });
      sock.on('error', reject);
    });
  });
}

// clientCase: a raw server answering response to a ws client with options.
function clientCase(name, options, response) {
  return new Promise((resolve, reject) => {
    let offer = '';
    const srv = net.createServer((sock) => {
      let buf = Buffer.alloc(0), head = null;
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (head === null) {
          const i = buf.indexOf('\r\n\r\n');
          if (i < 0) return;
          head = buf.subarray(0, i).toString();
          buf = buf.subarray(i + 4);
          const key = /sec-websocket-key: *(.*)/i.exec(head)[1].trim();
          offer = (/sec-websocket-extensions: *(.*)/i.exec(head) || ['', ''])[1].trim();
          const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
          sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Accept: ' + accept + '\r\nSec-WebSocket-Extensions: ' + response + '\r\n\r\n');
        }
        const { frames } = parseFrames(buf);
        if (frames.some((f) => f.opcode === 8)) {
          sock.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
          srv.close();
          resolve({ name, direction: 'client-to-server', offer, response, messages: annotate(group(frames)) });
        }
      });
      sock.on('error', reject);
    });
    srv.listen(0, '127.0.0.1', () => {
      const ws = new WebSocket('ws://127.0.0.1:' + srv.address().port + '/', { perMessageDeflate: Object.assign({ threshold: 0 }, options) });
      ws.on('open', () => { sendAll(ws, messages()); ws.close(1000); });
      ws.on('error', () => {});
    });
  });
}

// annotate checks that every message arrived.
function annotate(msgs) {
  if (msgs.length !== messages().length) throw new Error('lost messages');
  return msgs;
}

(async () => {
  const cases = [];
  cases.push(await serverCase('server-takeover-15', {}, 'permessage-deflate; client_max_window_bits'));
  cases.push(await serverCase('server-takeover-10', { serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=10'));
  cases.push(await serverCase('server-takeover-9', {}, 'permessage-deflate; server_max_window_bits=9'));
  cases.push(await serverCase('server-takeover-8', {}, 'permessage-deflate; server_max_window_bits=8'));
  cases.push(await serverCase('server-no-takeover', {}, 'permessage-deflate; server_no_context_takeover'));
  cases.push(await clientCase('client-takeover-15', {}, 'permessage-deflate'));
  cases.push(await clientCase('client-takeover-11', { clientMaxWindowBits: 11 }, 'permessage-deflate; client_max_window_bits=11'));
  cases.push(await clientCase('client-no-takeover', { clientNoContextTakeover: true }, 'permessage-deflate; client_no_context_takeover'));
  const plain = messages().map((m) => m.data.toString('base64'));
  process.stdout.write(JSON.stringify({ generator: 'node ' + process.version + ', ws ' + require('ws/package.json').version, plain, cases }, null, 1) + '\n');
})().catch((e) => { console.error(e); process.exit(1); });
