// The values of an INI inventory, as Ansible reads them: Python's ast.literal_eval on the text,
// and the text itself when that fails. This covers the literals inventories use: numbers,
// True/False/None, quoted strings, lists, tuples and dicts of them (sets and bytes stay text).

class NotLiteral extends Error {}

/** A number (hex, octal, binary, decimal, float, signed) or a bare name such as True or None. */
const BARE_WORD = new RegExp(
  String.raw`^(?:[+-]\s*)?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|` +
    String.raw`(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?\.?|[A-Za-z_]\w*)`,
);

export function parsePythonValue(text: string): unknown {
  try {
    const p = new LiteralParser(text.trim());
    const v = p.value();
    p.end();
    return v;
  } catch (err) {
    if (err instanceof NotLiteral) return text;
    throw err;
  }
}

class LiteralParser {
  private i = 0;
  constructor(private readonly s: string) {}

  end(): void {
    this.ws();
    if (this.i !== this.s.length) throw new NotLiteral();
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  private eat(c: string): boolean {
    this.ws();
    if (this.s[this.i] === c) {
      this.i++;
      return true;
    }
    return false;
  }

  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === '[' || c === '(') return this.seq(c === '[' ? ']' : ')');
    if (c === '{') return this.dict();
    if (c === '"' || c === "'") return this.str();
    const m = BARE_WORD.exec(this.s.slice(this.i));
    if (!m) throw new NotLiteral();
    this.i += m[0].length;
    const t = m[0].replace(/\s/g, '');
    if (t === 'True') return true;
    if (t === 'False') return false;
    if (t === 'None') return null;
    const sign = t.startsWith('-') ? -1 : 1;
    const body = t.replace(/^[+-]/, '');
    if (/^0[xX][0-9a-fA-F_]+$|^0[oO][0-7_]+$|^0[bB][01_]+$/.test(body)) return sign * Number(body.replace(/_/g, ''));
    if (/^(?:0|[1-9][\d_]*)$/.test(body)) return sign * Number(body.replace(/_/g, ''));
    if (/^(?:\d[\d_]*)?\.?\d*(?:[eE][+-]?\d+)?$/.test(body) && /[.eE]/.test(body) && /\d/.test(body))
      return sign * Number(body.replace(/_/g, ''));
    throw new NotLiteral(); // a bare name (yes, web1) or 010: Python refuses, so it stays text
  }

  private seq(close: string): unknown[] {
    this.i++;
    const out: unknown[] = [];
    while (!this.eat(close)) {
      out.push(this.value());
      if (!this.eat(',')) {
        if (!this.eat(close)) throw new NotLiteral();
        return out;
      }
    }
    return out;
  }

  private dict(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    while (!this.eat('}')) {
      const k = this.value();
      if (!this.eat(':')) throw new NotLiteral();
      out[String(k)] = this.value();
      if (!this.eat(',')) {
        if (!this.eat('}')) throw new NotLiteral();
        return out;
      }
    }
    return out;
  }

  private str(): string {
    const q = this.s[this.i]!;
    let out = '';
    for (this.i++; this.i < this.s.length; this.i++) {
      const c = this.s[this.i]!;
      if (c === q) {
        this.i++;
        this.ws();
        // Python joins adjacent literals: 'a' 'b' is 'ab'
        return this.s[this.i] === '"' || this.s[this.i] === "'" ? out + this.str() : out;
      }
      if (c === '\\') {
        const n = this.s[++this.i];
        out +=
          n === 'n' ? '\n' : n === 't' ? '\t' : n === '\\' || n === q || n === '"' || n === "'" ? n : `\\${n ?? ''}`;
      } else out += c;
    }
    throw new NotLiteral();
  }
}
