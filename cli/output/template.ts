// --format templates: Handlebars (a well-kept, logic-light template engine of the {{...}} family
// that Go templates and docker/kubectl --format users know), so no template engine is hand-made
// here. Strict mode: a field that does not exist is an error naming it, not an empty string;
// nothing is HTML-escaped. Helpers: json (the value as JSON) and join (an array with a separator).
import Handlebars from 'handlebars';
import { invalid } from '../../common/errors.js';

const hb = Handlebars.create();
hb.registerHelper('json', (v: unknown) => JSON.stringify(v));
hb.registerHelper('join', (v: unknown, sep: unknown) =>
  Array.isArray(v) ? v.join(typeof sep === 'string' ? sep : ',') : String(v ?? ''),
);

export type Template = (item: unknown) => string;

function badTemplate(template: string, err: unknown): Error {
  const msg = (err as Error).message ?? String(err);
  // Handlebars' parse errors quote the line and a caret; keep the one line that names the token
  const m = /Expecting (.*), got '([^']*)'/.exec(msg);
  const what = m ? `unexpected ${m[2]} (expected ${m[1]})` : msg.split('\n')[0];
  return invalid(
    `--format '${template}': ${what}`,
    'write fields as {{name}}, blocks as {{#each addresses}}{{this}} {{/each}}; the fields are those of -o json',
  );
}

export function compileTemplate(template: string): Template {
  try {
    hb.parse(template);
  } catch (err) {
    throw badTemplate(template, err);
  }
  const fn = hb.compile(template, { strict: true, noEscape: true });
  return (item) => {
    try {
      return fn(item);
    } catch (err) {
      const m = /"([^"]+)" not defined/.exec((err as Error).message);
      throw m
        ? invalid(
            `--format '${template}': no field '${m[1]}'`,
            'the fields are those of -o json (see fleetnet COMMAND -o json)',
          )
        : badTemplate(template, err);
    }
  };
}
