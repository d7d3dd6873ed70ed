// Renders a read command's items in the format asked for (cli/output/format.ts). A command gives
// its items as the plain objects -o json prints, and a view: table columns, the extra columns of
// -o wide, and each item's id for -q. Tables, JSON, YAML, templates and ids all come from the same
// items, so every format shows the same fields.
import type { OutputSpec } from './format.js';
import { table } from './table.js';

export type Column<T> = readonly [header: string, cell: (t: T) => string];

export interface View<T> {
  columns: readonly Column<T>[];
  /** Added to columns by -o wide. */
  wide?: readonly Column<T>[];
  /** What -q prints for an item (an id that several items share is printed once). */
  id?: (t: T) => string;
}

export interface RenderInput<T> {
  items: readonly T[];
  /** What -o json / -o yaml print when it is more than the items (e.g. {generation, tunnels}). */
  whole?: unknown;
  /** Printed above the table (not in json, yaml, templates or ids). */
  heading?: string;
}

export async function render<T>(
  spec: OutputSpec,
  input: RenderInput<T>,
  view: View<T>,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const data = input.whole ?? input.items;
  switch (spec.kind) {
    case 'json':
      out.write(JSON.stringify(data, null, 2) + '\n');
      return;
    case 'yaml': {
      const { stringify } = await import('yaml');
      out.write(stringify(data));
      return;
    }
    case 'template': {
      const { compileTemplate } = await import('./template.js');
      const fn = compileTemplate(spec.template);
      out.write(input.items.map((i) => fn(i) + '\n').join(''));
      return;
    }
    case 'ids':
      // each id once: the fleet's tunnels to one peer share their port's name on every member
      out.write([...new Set(input.items.map((i) => (view.id ?? String)(i)))].map((id) => id + '\n').join(''));
      return;
    default: {
      const cols = spec.kind === 'wide' ? [...view.columns, ...(view.wide ?? [])] : view.columns;
      out.write(
        (input.heading ? input.heading + '\n' : '') +
          table(
            cols.map((c) => c[0]),
            input.items.map((i) => cols.map((c) => c[1](i))),
          ) +
          '\n',
      );
    }
  }
}
