// Plain aligned tables for people; scripts use --json.

/** One line per row: a cell's line breaks (an error and its hint) become spaces. */
const oneLine = (c: string) => (c.includes('\n') ? c.replace(/\s*\n\s*/g, ' ') : c);

export function table(headers: string[], cells: string[][]): string {
  const rows = cells.map((r) => r.map(oneLine));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(headers), ...rows.map(fmt)].join('\n');
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}
