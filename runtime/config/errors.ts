/** A bad configuration: one line naming the file (and the key) at fault. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
