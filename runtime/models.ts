/**
 * What plugin models import: `import { defineEntity, p, type InferEntity } from "outflow/models"`.
 * Re-exported from outflow's own MikroORM so a pipeline needs no second copy (the runtime recognises
 * entities by identity). Kept apart from "outflow" so commands that use no database never load the ORM.
 */
export { defineEntity, p, type InferEntity, type EntityManager } from "@mikro-orm/core";
