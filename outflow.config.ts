import { defineConfig } from "outflow";

export default defineConfig({
  plugins: ["data_reduction"],
  databases: { default: { dialect: "sqlite", path: "outflow.db" } },
  backend: "sequential",
  logging: { level: "INFO" },
});
