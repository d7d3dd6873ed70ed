// HPACK (RFC 7541) for the CLI's own HTTP/2 client (cli/client/h2-conn.ts): a full decoder (the
// server's encoder may use the static and dynamic tables and Huffman strings) and the plain
// encoder a client needs (literals without indexing, no Huffman: a request's few headers).

/** RFC 7541 Appendix A. Index 1 is the first entry. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/**
 * RFC 7541 Appendix B as code lengths, symbols 0-256 (256 = EOS). The code is canonical: sorted by
 * (length, symbol), each code is the previous one plus one, shifted left when the length grows,
 * which gives exactly the table's codes (test/unit/hpack.test.ts decodes node's own encoder).
 */
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

export class HpackError extends Error {}

/** The decoding tree: node i has children tree[2i] (bit 0) and tree[2i+1] (bit 1); a leaf is -1 - symbol. */
function huffmanTree(): Int32Array {
  const t = new Int32Array(2 * 600).fill(0);
  let nodes = 1; // node 0 is the root
  const order = HUFFMAN_LENGTHS.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym);
  let code = 0;
  let prevLen = order[0]!.len;
  for (const [i, { len, sym }] of order.entries()) {
    if (i > 0) code = (code + 1) * 2 ** (len - prevLen);
    prevLen = len;
    let n = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = Math.floor(code / 2 ** b) & 1;
      if (b === 0) t[2 * n + bit] = -1 - sym;
      else {
        if (t[2 * n + bit] === 0) t[2 * n + bit] = nodes++;
        n = t[2 * n + bit]!;
      }
    }
  }
  return t;
}
const TREE = huffmanTree();

export function huffmanDecode(b: Uint8Array): string {
  const t = TREE;
  let out = '';
  let n = 0;
  let depth = 0; // bits read since the last symbol
  let ones = true; // were they all 1s (a valid padding, the start of EOS)
  for (const byte of b) {
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >> i) & 1;
      const next = t[2 * n + bit]!;
      depth++;
      ones &&= bit === 1;
      if (next < 0) {
        const sym = -1 - next;
        if (sym === EOS) throw new HpackError('Huffman string holds EOS');
        out += String.fromCharCode(sym);
        n = 0;
        depth = 0;
        ones = true;
      } else n = next;
    }
  }
  if (depth > 7 || !ones) throw new HpackError('bad Huffman padding');
  return out;
}

/** One HPACK integer with an N-bit prefix at b[pos]; returns the value and the next position. */
function readInt(b: Uint8Array, pos: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let v = b[pos]! & max;
  pos++;
  if (v < max) return [v, pos];
  for (let shift = 0; ; shift += 7) {
    if (pos >= b.length || shift > 28) throw new HpackError('bad integer');
    const c = b[pos++]!;
    v += (c & 0x7f) * 2 ** shift;
    if (!(c & 0x80)) return [v, pos];
  }
}

function readString(b: Uint8Array, pos: number): [string, number] {
  if (pos >= b.length) throw new HpackError('truncated string');
  const huffman = (b[pos]! & 0x80) !== 0;
  const [len, start] = readInt(b, pos, 7);
  const end = start + len;
  if (end > b.length) throw new HpackError('truncated string');
  const raw = b.subarray(start, end);
  return [huffman ? huffmanDecode(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1'), end];
}

/** Decodes header blocks of one connection, in order (the dynamic table lives across blocks). */
export class HpackDecoder {
  private dynamic: [string, string][] = [];
  private size = 0;

  constructor(private maxSize = 4096) {}

  private entry(index: number): readonly [string, string] {
    if (index >= 1 && index <= STATIC.length) return STATIC[index - 1]!;
    const e = this.dynamic[index - STATIC.length - 1];
    if (!e) throw new HpackError(`header index ${index} is not in the table`);
    return e;
  }

  private add(name: string, value: string): void {
    this.dynamic.unshift([name, value]);
    this.size += name.length + value.length + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxSize && this.dynamic.length) {
      const [n, v] = this.dynamic.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }

  decode(block: Uint8Array): [string, string][] {
    const out: [string, string][] = [];
    let pos = 0;
    while (pos < block.length) {
      const c = block[pos]!;
      if (c & 0x80) {
        const [i, p] = readInt(block, pos, 7);
        if (i === 0) throw new HpackError('header index 0');
        const [n, v] = this.entry(i);
        out.push([n, v]);
        pos = p;
      } else if ((c & 0xe0) === 0x20) {
        const [max, p] = readInt(block, pos, 5);
        if (max > 4096) throw new HpackError('table size update above what we allowed');
        this.maxSize = max;
        this.evict();
        pos = p;
      } else {
        const indexing = (c & 0xc0) === 0x40;
        const [i, p0] = readInt(block, pos, indexing ? 6 : 4);
        let name: string;
        let p = p0;
        if (i === 0) [name, p] = readString(block, p);
        else name = this.entry(i)[0];
        const [value, p2] = readString(block, p);
        if (indexing) this.add(name, value);
        out.push([name, value]);
        pos = p2;
      }
    }
    return out;
  }
}

function pushInt(out: number[], first: number, prefixBits: number, v: number): void {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    out.push(first | v);
    return;
  }
  out.push(first | max);
  v -= max;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** A header block of literals without indexing (names by static index when there is one). */
export function encodeHeaders(headers: readonly (readonly [string, string])[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of headers) {
    const idx = STATIC.findIndex(([n]) => n === name) + 1;
    pushInt(out, 0x00, 4, idx);
    if (idx === 0) {
      pushInt(out, 0x00, 7, Buffer.byteLength(name, 'latin1'));
      for (const ch of Buffer.from(name, 'latin1')) out.push(ch);
    }
    const v = Buffer.from(value, 'latin1');
    pushInt(out, 0x00, 7, v.length);
    for (const ch of v) out.push(ch);
  }
  return Buffer.from(out);
}
