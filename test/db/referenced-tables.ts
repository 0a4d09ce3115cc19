/**
 * The `family` plugin of the tests of migrations that rebuild a referenced table: `Parent`, referenced by
 * `Child` (on delete cascade), `Pet` (nullable: on delete set null) and `Toy` (required: no action, as
 * make-migrations writes a required relation), and a command that stores parents with children and pets,
 * and with `--toys` toys too.
 */
import { makePluginPipeline } from "./fixture.js";
import { editModel } from "./model-drift.js";

export const FAMILY_MODEL = `import { defineEntity, p } from "outflow/models";

export const Parent = defineEntity({
  name: "Parent",
  tableName: "parent",
  properties: { id: p.integer().primary().autoincrement(), label: p.string(), kind: p.enum(["a", "b"]) },
});

export const Child = defineEntity({
  name: "Child",
  tableName: "child",
  properties: { id: p.integer().primary().autoincrement(), name: p.string(), parent: p.manyToOne(Parent).deleteRule("cascade") },
});

export const Pet = defineEntity({
  name: "Pet",
  tableName: "pet",
  properties: { id: p.integer().primary().autoincrement(), name: p.string(), owner: p.manyToOne(Parent).nullable() },
});

export const Toy = defineEntity({
  name: "Toy",
  tableName: "toy",
  properties: { id: p.integer().primary().autoincrement(), name: p.string(), parent: p.manyToOne(Parent) },
});
`;

const FAMILY_TASKS = `import { task, context, logger } from "outflow";
import { Child, Parent, Pet, Toy } from "./models/family.js";

export const StoreFamily = task(async function StoreFamily(): Promise<void> {
  const em = context.em;
  for (const label of ["ada", "bo"]) {
    const parent = em.create(Parent, { label, kind: "a" });
    for (const name of ["x", "y"]) em.create(Child, { name: label + "-" + name, parent });
    em.create(Pet, { name: label + "-cat", owner: parent });
    if (context.args.toys) em.create(Toy, { name: label + "-ball", parent });
  }
  await em.flush();
  logger.info("stored a family");
});
`;

const FAMILY_COMMANDS = `import { command } from "outflow";
import { StoreFamily } from "./tasks.js";

export const store_family = command({
  description: "Stores two parents, each with two children and a pet (and a toy with --toys)",
  args: { toys: { type: "boolean", default: false } },
  setup() {
    StoreFamily();
  },
});
`;

/** The tutorial pipeline with the `family` plugin (no migration of it yet), built. */
export function makeFamilyPipeline(files: Record<string, string> = {}): Promise<string> {
  return makePluginPipeline("family", { model: FAMILY_MODEL, tasks: FAMILY_TASKS, commands: FAMILY_COMMANDS }, files);
}

/** Rewrites the family models (each `[from, to]` replaced once) and rebuilds. */
export const editFamilyModel = (root: string, edits: Array<[string, string]>) => editModel(root, "plugins/family/models/family.ts", FAMILY_MODEL, edits);
