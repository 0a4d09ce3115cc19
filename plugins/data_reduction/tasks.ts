import { task, context, logger, type IterateOn } from "outflow";
import { ComputationResult } from "./models/computation_result.js";

export const GenData = task(function GenData(): { some_data: number } {
  return { some_data: 42 };
});

export const Compute = task(async function Compute(some_data: number): Promise<{ computation_result: number }> {
  const multiplier = context.args.multiplier as number;
  // The database session of this task (a fresh MikroORM EntityManager fork of the default database).
  const em = context.em;
  const found = await em.findOne(ComputationResult, { inputValue: some_data, multiplier });
  if (found) {
    logger.info("Result found in database");
    return { computation_result: found.result };
  }
  logger.info("Result not found in database, computing...");
  const computation_result = some_data * multiplier;
  em.create(ComputationResult, { inputValue: some_data, multiplier, result: computation_result });
  await em.flush();
  return { computation_result };
});

export const PrintData = task(function PrintData(computation_result: number): void {
  logger.info(`Result of the computation: ${computation_result}`);
});

export const GenDataArray = task(function GenDataArray(): { some_data_array: number[] } {
  return { some_data_array: [42, 43, 44, 45] };
});

export const ComputeElement = task(async function ComputeElement(
  some_data: IterateOn<"some_data_array", number>,
): Promise<{ computation_result: number }> {
  const multiplier = context.args.multiplier as number;
  return { computation_result: some_data * multiplier };
});

export const PrintMapped = task(function PrintMapped(map_computation_result: number[]): void {
  logger.info(`Result of the mapped computation: ${JSON.stringify(map_computation_result)}`);
});
