// Small SQL text helpers for statements that take no bind parameters (DDL).

/** Quotes an identifier the way quote_ident() does. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal the way quote_literal() does (standard_conforming_strings on). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
