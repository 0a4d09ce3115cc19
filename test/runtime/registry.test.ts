/** Task identities from the module namespaces: `<module>#<export>`, named by the export (a default export by its function). */
import { describe, expect, it } from "vitest";
import { task } from "../../runtime/api/task.js";
import { registerTasks } from "../../runtime/registry.js";

describe("registerTasks", () => {
  it("names a task by its export, and a default-exported one by its function, as the manifest does", () => {
    const named = task(function Inner(): { x: number } {
      return { x: 1 };
    });
    const dflt = task(function Dflt(): { y: number } {
      return { y: 2 };
    });
    const found = registerTasks({ "plugins/p/tasks.ts": { Renamed: named, default: dflt } });
    expect([...found.keys()].sort()).toEqual(["plugins/p/tasks.ts#Renamed", "plugins/p/tasks.ts#default"]);
    expect(named.displayName).toBe("Renamed");
    expect(dflt.displayName).toBe("Dflt");
  });
});
