import { command, map } from "outflow";
import { GenData, Compute, PrintData, GenDataArray, ComputeElement, PrintMapped } from "./tasks.js";

export const compute_data = command({
  description: "Multiply generated data",
  args: { multiplier: { type: "number", required: true, description: "Value to multiply by" } },
  setup() {
    GenData().pipe(Compute()).pipe(PrintData());
  },
});

export const compute_more_data = command({
  description: "Multiply an array of generated data, one element at a time",
  args: { multiplier: { type: "number", required: true, description: "Value to multiply by" } },
  setup() {
    const mapped = map({ outputName: "map_computation_result", cpusPerTask: 1 }, () => {
      ComputeElement();
    });
    GenDataArray().pipe(mapped).pipe(PrintMapped());
  },
});
