/**
 * What migrations import: `import { Migration } from "outflow/migrations"` (what
 * `outflow management db make-migrations` writes). Outflow's own MikroORM, so a pipeline needs no
 * MikroORM of its own, in its bundles or under `outflow/testing`.
 */
export { Migration } from "@mikro-orm/migrations";
