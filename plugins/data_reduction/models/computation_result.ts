import { defineEntity, p, type InferEntity } from "outflow/models";

/** A cached computation: `result = input_value * multiplier` (tutorial part 3). */
export const ComputationResult = defineEntity({
  name: "ComputationResult",
  tableName: "computation_result",
  properties: {
    id: p.integer().primary().autoincrement(),
    inputValue: p.integer(),
    multiplier: p.integer(),
    result: p.integer(),
  },
  uniques: [{ properties: ["inputValue", "multiplier"] }],
});

export type IComputationResult = InferEntity<typeof ComputationResult>;
