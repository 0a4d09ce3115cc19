import { ts } from "ts-morph";

/**
 * Checker types of values that no source declares, so that every type check is the TypeScript checker's
 * own assignability: a map's result `E[]`, a map element of several outputs `{ a: A; b: B }`, what several
 * terminal tasks offer under one name (`A | B`). The TypeScript API has no public constructor for them;
 * the checker's own (internal) ones are used. Where they are missing (another TypeScript), the value is
 * `any`: not checked, never a false error.
 */

/** The checker's internal constructors used here. */
interface Constructors {
  createArrayType(element: ts.Type, readonly?: boolean): ts.Type;
  getUnionType(types: ts.Type[]): ts.Type;
  createSymbol(flags: ts.SymbolFlags, name: ts.__String): ts.Symbol & { links?: { type?: ts.Type } };
  createAnonymousType(symbol: undefined, members: Map<ts.__String, ts.Symbol>, calls: [], constructs: [], indexInfos: []): ts.Type;
}

export interface ValueTypes {
  checker: ts.TypeChecker;
  /** A value whose type is not known: assignable to anything, so it is not checked. */
  unknown: ts.Type;
  undefined: ts.Type;
  arrayOf(element: ts.Type): ts.Type;
  /** `readonly unknown[]`, which every JS array (and tuple) is assignable to; undefined without the constructors. */
  anyArray: ts.Type | undefined;
  /** `{ a: A; b?: B }`: the names in `optional` are optional properties (a key that may be missing). */
  objectOf(properties: Map<string, ts.Type>, optional?: ReadonlySet<string>): ts.Type;
  unionOf(types: ts.Type[]): ts.Type;
  assignable(source: ts.Type, target: ts.Type): boolean;
  text(type: ts.Type): string;
}

export function valueTypes(checker: ts.TypeChecker): ValueTypes {
  const internal = checker as ts.TypeChecker & Partial<Constructors>;
  const unknown = checker.getAnyType();
  const has = ["createArrayType", "getUnionType", "createSymbol", "createAnonymousType"].every((k) => typeof internal[k as keyof Constructors] === "function");
  const c = has ? (internal as ts.TypeChecker & Constructors) : undefined;
  return {
    checker,
    unknown,
    undefined: checker.getUndefinedType(),
    arrayOf: (element) => c?.createArrayType(element) ?? unknown,
    anyArray: c?.createArrayType(checker.getUnknownType(), true),
    unionOf: (types) => (types.length === 1 ? types[0] : c?.getUnionType(types) ?? unknown),
    objectOf(properties, optional) {
      if (!c) return unknown;
      const members = new Map<ts.__String, ts.Symbol>();
      for (const [name, type] of properties) {
        const key = ts.escapeLeadingUnderscores(name);
        const symbol = c.createSymbol(ts.SymbolFlags.Property | (optional?.has(name) ? ts.SymbolFlags.Optional : 0), key);
        if (!symbol.links) return unknown;
        symbol.links.type = type;
        members.set(key, symbol);
      }
      return c.createAnonymousType(undefined, members, [], [], []);
    },
    assignable: (source, target) => checker.isTypeAssignableTo(source, target),
    text: (type) => checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation),
  };
}
