/**
 * Credential masking for anything that prints, logs or stores configuration.
 */

export const MASK = "***";

/**
 * password, passwd, secret, token, apiKey, api_key, api-key, alone or as the last word of a longer
 * key (`adminPassword`, `db_password`, `client_secret`, `access_token`), case-insensitive; `pass`
 * only as a whole word (`pass`, `db_pass`, `dbPass`, never `bypass` or `compass`).
 */
const SECRET_SUFFIX = /(?:password|passwd|secret|token|api[_-]?key)$/i;
const PASS_WORD = /(?:^|[_\-.])pass$/i;
const PASS_CAMEL = /[a-z0-9]Pass$/;

/** True for a key whose value is a credential. */
export function isSecretKey(key: string): boolean {
  return SECRET_SUFFIX.test(key) || PASS_WORD.test(key) || PASS_CAMEL.test(key);
}

/** `scheme://user:password@host` → `scheme://user:***@host`. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)([^\s@/?#]+)(@)/gi;
/** `?password=x` / `&token=x` query parameters. */
const URL_QUERY = /([?&](?:password|passwd|pass|secret|token|api[_-]?key|access_token)=)([^&#\s]+)/gi;

/** Masks the password in URL userinfo and secret-looking query parameters of a string. */
export function maskString(text: string): string {
  if (!text.includes("://") && !text.includes("=")) return text;
  return text.replace(URL_USERINFO, `$1${MASK}$3`).replace(URL_QUERY, `$1${MASK}`);
}

/**
 * A deep copy of `value` with credentials replaced by `"***"`: the value of any secret-named key
 * (see `isSecretKey`), and passwords inside URLs in any string. `null`/`undefined` stay as they are.
 */
export function maskSecrets<T>(value: T): T {
  return maskValue(value, new WeakMap()) as T;
}

function maskValue(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === "string") return maskString(value);
  if (value === null || typeof value !== "object") return value;
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(maskValue(item, seen));
    return out;
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    seen.set(value, out);
    for (const [k, v] of value) out.set(k, typeof k === "string" && isSecretKey(k) && v != null ? MASK : maskValue(v, seen));
    return out;
  }
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) && v != null ? MASK : maskValue(v, seen);
  return out;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
