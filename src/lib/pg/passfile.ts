// libpq password file lookup (hostname:port:database:username:password), so that a
// configured postgres.passfile works exactly like libpq's PGPASSFILE.
import { readFile } from 'node:fs/promises';

export interface PassfileQuery {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** Splits one line on unescaped ':' and unescapes "\:" and "\\". */
function splitFields(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index];
    if (char === '\\' && index + 1 < line.length) {
      current += line[index + 1] ?? '';
      index += 1;
    } else if (char === ':') {
      fields.push(current);
      current = '';
    } else {
      current += char ?? '';
    }
  }
  fields.push(current);
  return fields;
}

/** The password for the first matching line, as libpq picks it; undefined if none matches. */
export function findPassword(text: string, query: PassfileQuery): string | undefined {
  // libpq matches a Unix socket connection against the host name "localhost".
  const host = query.host.startsWith('/') ? 'localhost' : query.host;
  const wanted = [host, String(query.port), query.database, query.user];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = splitFields(line);
    if (fields.length < 5) continue;
    const matches = wanted.every(
      (value, index) => fields[index] === '*' || fields[index] === value,
    );
    if (matches) return fields.slice(4).join(':');
  }
  return undefined;
}

export async function lookupPassword(
  passfile: string,
  query: PassfileQuery,
): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(passfile, 'utf8');
  } catch {
    return undefined; // libpq ignores an unreadable password file too
  }
  return findPassword(text, query);
}
