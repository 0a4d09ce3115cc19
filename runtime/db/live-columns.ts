/**
 * The columns a database has, in one catalog query (SQLite `pragma_table_info`, PostgreSQL
 * `pg_attribute`: not information_schema, whose views take tens of milliseconds to plan and hide
 * what the role has no privilege on), and the type each one stores, normalised per dialect so that
 * two spellings of one storage compare equal.
 */
import type { Dialect } from "./catalog.js";
import type { OpenDatabase } from "./connect.js";

export interface LiveColumn {
  /** The type as the database reports it, in lower case (`integer`, `character varying(255)`). */
  type: string;
  nullable: boolean;
  /** An insert that leaves it out gets a value: a default (PostgreSQL: also an identity or generated column). */
  hasDefault: boolean;
  primary: boolean;
  /** The values a check constraint on the column admits (`state in ('a', 'b')`, what an enum property makes); undefined: none found. */
  allowed?: string[];
}

export interface LiveTable {
  columns: Map<string, LiveColumn>;
  /** The role may select from it (always on SQLite). */
  readable: boolean;
}

/** `schema.table` on PostgreSQL when the model names a schema, else the table name. */
export type TableKey = string;

/** The given tables that exist (a table missing from the result does not exist), with their columns. */
export async function liveColumns(db: OpenDatabase, tables: Array<{ table: string; schema?: string }>): Promise<Map<TableKey, LiveTable>> {
  const out = new Map<TableKey, LiveTable>();
  if (!tables.length) return out;
  const conn = db.orm.em.getConnection();
  // `checks`: the table's SQL on SQLite, the column's own check constraints on PostgreSQL.
  type Row = { table_key: string; name: string; type: string | null; not_null: number | boolean; has_default: number | boolean; pk: number | boolean; checks: string | null; readable?: boolean };
  let rows: Row[];
  if (db.dialect === "sqlite") {
    const names = literals(tables.map((t) => t.table));
    rows = await conn.execute(
      `select m.name as table_key, c.name, c.type, c."notnull" as not_null, c.dflt_value is not null as has_default, c.pk, m.sql as checks
       from sqlite_master m join pragma_table_info(m.name) c where m.type = 'table' and m.name in (${names})`,
      [],
      "all",
    );
  } else {
    // An unqualified name is the table the search path finds first (pg_table_is_visible), as in the run's
    // own queries: not necessarily in current_schema(), which is the first schema on the path that exists
    // (a role's own, empty, schema under the default "$user", public).
    const wanted = [...new Map(tables.map((t) => [t.schema ? `${t.schema}.${t.table}` : t.table, t])).entries()]
      .map(([key, t]) => `(${literal(key)}, ${literal(t.schema ?? "")}, ${literal(t.table)})`)
      .join(", ");
    rows = await conn.execute(
      `select w.table_key, a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null, a.atthasdef or a.attidentity <> '' as has_default,
              coalesce(a.attnum = any(i.indkey), false) as pk, has_table_privilege(c.oid, 'select') as readable,
              (select string_agg(pg_get_constraintdef(k.oid), ' and ') from pg_constraint k where k.conrelid = c.oid and k.contype = 'c' and k.conkey = array[a.attnum]) as checks
       from (values ${wanted}) as w(table_key, schema, name)
       join pg_class c on c.relname = w.name and c.relkind in ('r', 'p')
       join pg_namespace n on n.oid = c.relnamespace and (case when w.schema = '' then pg_table_is_visible(c.oid) else n.nspname = w.schema end)
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       left join pg_index i on i.indrelid = c.oid and i.indisprimary`,
      [],
      "all",
    );
  }
  for (const r of rows) {
    let table = out.get(r.table_key);
    if (!table) out.set(r.table_key, (table = { columns: new Map(), readable: r.readable ?? true }));
    table.columns.set(r.name, { type: (r.type ?? "").toLowerCase(), nullable: !Number(r.not_null), hasDefault: !!Number(r.has_default), primary: !!Number(r.pk), allowed: allowedValues(r.checks, r.name) });
  }
  return out;
}

const ident = (name: string) => `[\`"\\[]?${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[\`"\\]]?`;

/**
 * The list of a check `col in ('a', 'b')` (SQLite, as MikroORM writes it) or `col = ANY (ARRAY['a'::text, …])`
 * (PostgreSQL, as it reports it back) on `column`; undefined when there is none.
 */
function allowedValues(checks: string | null, column: string): string[] | undefined {
  if (!checks) return undefined;
  const list =
    new RegExp(`check\\s*\\(\\s*${ident(column)}\\s+in\\s*\\(((?:'(?:[^']|'')*'|[\\s,])*)\\)`, "i").exec(checks)?.[1] ??
    new RegExp(`\\(*${ident(column)}\\)?(?:::[\\w ]+)?\\s*=\\s*any\\s*\\(+array\\[((?:'(?:[^']|'')*'(?:::[\\w ]+)?|[\\s,])*)\\]`, "i").exec(checks)?.[1];
  if (list === undefined) return undefined;
  return [...list.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replace(/''/g, "'"));
}

/** A name as an SQL string literal (table names come from the models, never from input). */
function literal(name: string): string {
  return `'${name.replace(/'/g, "''")}'`;
}

function literals(names: string[]): string {
  return [...new Set(names)].map(literal).join(", ");
}

/** SQLite stores by type affinity (https://sqlite.org/datatype3.html#determination_of_column_affinity). */
function sqliteAffinity(declared: string): string {
  const t = declared.toUpperCase();
  if (t.includes("INT")) return "integer";
  if (/CHAR|CLOB|TEXT/.test(t)) return "text";
  if (t.includes("BLOB") || !t.trim()) return "blob";
  if (/REAL|FLOA|DOUB/.test(t)) return "real";
  return "numeric";
}

/** PostgreSQL spellings of one type (MikroORM emits the short ones, format_type reports the long ones). */
const PG_ALIASES: Record<string, string> = {
  int: "integer", int4: "integer", serial: "integer", serial4: "integer",
  int2: "smallint", smallserial: "smallint", serial2: "smallint",
  int8: "bigint", bigserial: "bigint", serial8: "bigint",
  // Lengths are not compared: a varchar(255) model on a text column (or the reverse) stores the same strings.
  varchar: "text", "character varying": "text", char: "text", character: "text", bpchar: "text",
  float4: "real", float8: "double precision", float: "double precision",
  decimal: "numeric",
  bool: "boolean",
  "timestamp with time zone": "timestamptz",
  "timestamp without time zone": "timestamp",
  "time without time zone": "time",
  "time with time zone": "timetz",
  // json and jsonb read back as the same values.
  jsonb: "json",
};

function pgType(type: string): string {
  let t = type.toLowerCase().replace(/"/g, "").trim();
  let array = "";
  while (t.endsWith("[]")) {
    array += "[]";
    t = t.slice(0, -2).trim();
  }
  t = t.replace(/\s*\([^)]*\)/g, "").replace(/\s+/g, " ");
  // A native enum is named by the database with its schema when it is not on the search path.
  if (!(t in PG_ALIASES) && t.includes(".")) t = t.slice(t.lastIndexOf(".") + 1);
  return (PG_ALIASES[t] ?? t) + array;
}

/** The storage a declared type stands for: equal for two types the dialect stores alike. */
export function storedType(dialect: Dialect, type: string): string {
  return dialect === "sqlite" ? sqliteAffinity(type) : pgType(type);
}
