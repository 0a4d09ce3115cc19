/**
 * The `kinds` plugin of the model-drift tests: a model with every kind of property the README and the
 * fixtures use (strings of several lengths, text, integers of each size, floats, decimals, booleans,
 * dates and times, JSON, an enum, a uuid, an array, a blob, optional and defaulted properties, required
 * and optional relations), and a command that stores one row and reads it back.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildPipeline, makePluginPipeline } from "./fixture.js";

export const KINDS_MODEL = `import { defineEntity, p, type InferEntity } from "outflow/models";

export const Owner = defineEntity({
  name: "Owner",
  tableName: "owner",
  properties: { id: p.integer().primary().autoincrement(), name: p.string() },
});

export const Sample = defineEntity({
  name: "Sample",
  tableName: "sample",
  properties: {
    id: p.integer().primary().autoincrement(),
    uuid: p.uuid().unique(),
    label: p.string(),
    code: p.string().length(16),
    body: p.text(),
    count: p.integer(),
    small: p.smallint(),
    big: p.bigint(),
    ratio: p.float(),
    precise: p.double(),
    amount: p.decimal(),
    done: p.boolean(),
    flag: p.boolean().default(false),
    takenAt: p.datetime(),
    day: p.date(),
    at: p.time(),
    meta: p.json<{ tags: string[] }>(),
    state: p.enum(["new", "seen", "it's kept"]),
    note: p.string().nullable(),
    score: p.integer().nullable(),
    tags: p.array(),
    blob: p.blob().nullable(),
    owner: p.manyToOne(Owner),
    reviewer: p.manyToOne(Owner).nullable(),
  },
});

export type ISample = InferEntity<typeof Sample>;
`;

const KINDS_TASKS = `import { randomUUID } from "node:crypto";
import { task, context, logger } from "outflow";
import { Owner, Sample } from "./models/kinds.js";

export const StoreSample = task(async function StoreSample(): Promise<void> {
  const em = context.em;
  const owner = em.create(Owner, { name: "ada" });
  const row = {
    uuid: randomUUID(), label: "first", code: "c-1", body: "a long text", count: 3, small: 2, big: "12345678901",
    ratio: 0.5, precise: 1.25, amount: "12", done: true, takenAt: new Date(), day: "2026-12-01", at: "12:30:00",
    meta: { tags: ["x"] }, state: "seen", note: null, score: 7, tags: ["a", "b"], owner,
  };
  em.create(Sample, row as never);
  await em.flush();
  em.clear();
  const rows = await em.find(Sample, {}, { populate: ["owner"], orderBy: { id: "asc" } });
  const last = rows[rows.length - 1] as unknown as Record<string, unknown> & { owner: { name: string }; meta: { tags: string[] } };
  logger.info(\`stored sample \${rows.length}: count \${typeof last.count} \${last.count}, label \${typeof last.label}, done \${typeof last.done}, meta \${last.meta.tags[0]}, owner \${last.owner.name}\`);
});
`;

const KINDS_COMMANDS = `import { command } from "outflow";
import { StoreSample } from "./tasks.js";

export const store_sample = command({
  description: "Stores a Sample and reads the samples back",
  setup() {
    StoreSample();
  },
});
`;

/** The tutorial pipeline with the `kinds` plugin (no migration of it yet), built. */
export function makeKindsPipeline(files: Record<string, string> = {}): Promise<string> {
  return makePluginPipeline("kinds", { model: KINDS_MODEL, tasks: KINDS_TASKS, commands: KINDS_COMMANDS }, files);
}

/** Writes `model` with each `[from, to]` replaced once (each `from` must be there) to `file` of the pipeline, and rebuilds. */
export async function editModel(root: string, file: string, model: string, edits: Array<[string, string]>): Promise<void> {
  let text = model;
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`${file} has no ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  writeFileSync(join(root, file), text);
  await buildPipeline(root);
}

/** Rewrites the Sample model and rebuilds. */
export const editKindsModel = (root: string, edits: Array<[string, string]>) => editModel(root, "plugins/kinds/models/kinds.ts", KINDS_MODEL, edits);

/** Model changes made without a migration: a type, a nullability, a new property (replacing an optional one), a dropped required one, a new enum value. */
export const DRIFT: Array<[string, string]> = [
  ["label: p.string(),", "label: p.integer(),"],
  ["note: p.string().nullable(),", "note: p.string(),"],
  ["score: p.integer().nullable(),", "extra: p.integer(),"],
  ["count: p.integer(),", ""],
  ['state: p.enum(["new", "seen", "it\'s kept"]),', 'state: p.enum(["new", "seen", "it\'s kept", "archived"]),'],
];

/** The fix each mismatch line ends with. */
export const KINDS_FIX = 'create a migration (`outflow management db make-migrations --plugin kinds --message "..."`), rebuild, then `outflow management db upgrade heads`';
