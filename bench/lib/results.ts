// The results-file schema every benchmark writes (bench/results/*.json) and the report reads.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { summarize } from './stats.js';

export const ResultRowSchema = z
  .object({
    name: z.string().min(1),
    p50Ms: z.number(),
    p95Ms: z.number(),
    n: z.number().int().optional(),
    meanMs: z.number().optional(),
    minMs: z.number().optional(),
    maxMs: z.number().optional(),
    /** Exactly what the clock covers, one sentence. */
    timed: z.string().optional(),
  })
  .passthrough();

export const ComparisonSchema = z.object({
  what: z.string(),
  ratio: z.number(),
  /** Median of the per-attach ratios a_i / b_i (the paths are interleaved, so a_i and b_i ran back to back). */
  pairedRatio: z.number().optional(),
  /** The ratio the project aims at (reported, never asserted in tests). */
  target: z.number().optional(),
  met: z.boolean().optional(),
});

export const ResultsSchema = z
  .object({
    title: z.string().min(1),
    /** The script that wrote the file, e.g. bench/run.ts. */
    path: z.string().min(1),
    rows: z.array(ResultRowSchema),
    notes: z.array(z.string()).default([]),
    date: z.string().optional(),
    n: z.number().int().optional(),
    machine: z
      .object({ nproc: z.number(), kernel: z.string(), cpu: z.string().optional(), node: z.string().optional() })
      .passthrough()
      .optional(),
    comparisons: z.array(ComparisonSchema).optional(),
  })
  .passthrough();

export type ResultRow = z.infer<typeof ResultRowSchema>;
export type Comparison = z.infer<typeof ComparisonSchema>;
export type Results = z.infer<typeof ResultsSchema>;

export function writeResults(file: string, r: Results): void {
  const checked = ResultsSchema.parse(r);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(checked, null, 2) + '\n');
}

/** Every results file in a folder, latest.json first, then by name; a malformed file is an error naming it. */
export function readAllResults(dir: string): { file: string; results: Results }[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  names.sort((a, b) => (a === 'latest.json' ? -1 : b === 'latest.json' ? 1 : a.localeCompare(b)));
  return names.map((f) => {
    const file = join(dir, f);
    const parsed = ResultsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success)
      throw new Error(`${file} does not follow the results schema (bench/lib/results.ts): ${parsed.error.message}`);
    return { file, results: parsed.data };
  });
}

/** Rounded to hundredths, as the results files give figures. */
export const r2 = (x: number) => Math.round(x * 100) / 100;

/** A result row from timed samples: their summary and what the clock covered. */
export const row = (name: string, s: number[], timed: string, extra: Record<string, unknown> = {}): ResultRow => ({
  name,
  ...summarize(s),
  timed,
  ...extra,
});

/** The machine's load averages (1, 5, 15 min), for the notes. */
export const load = () => loadavg().map(r2).join(' / ');
