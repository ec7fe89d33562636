// libpq password file lookup (hostname:port:database:username:password), so that a
// configured postgres.passfile works exactly like libpq's PGPASSFILE.
import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';

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

/** Why libpq would ignore a password file with this mode, or undefined if it reads it. */
export function passfileModeProblem(
  path: string,
  mode: number,
  isFile: boolean,
): string | undefined {
  if (!isFile) return `password file "${path}" is not a plain file`;
  if ((mode & 0o077) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `password file "${path}" has group or world access (mode ${octal}); permissions should be u=rw (0600) or less: chmod 600 ${path}`;
}

const reported = new Set<string>();

/**
 * The file's text as last read, while stat says it is the same file unchanged: the supervisor
 * opens several connections a second, and one stat costs less than open, read and close. A
 * replaced or edited file (new inode, size, mtime or ctime) is read again, as is one whose
 * mode or owner changed (ctime).
 */
const lastRead = new Map<string, { identity: string; text: string }>();

function identityOf(info: Stats): string {
  return [info.dev, info.ino, info.size, info.mtimeMs, info.ctimeMs, info.mode, info.uid].join(':');
}

export async function lookupPassword(
  passfile: string,
  query: PassfileQuery,
): Promise<string | undefined> {
  const cached = lastRead.get(passfile);
  if (cached !== undefined) {
    const info = await stat(passfile).catch(() => undefined);
    if (info !== undefined && identityOf(info) === cached.identity) {
      return findPassword(cached.text, query);
    }
    lastRead.delete(passfile);
  }
  let text: string;
  try {
    const handle = await open(passfile, 'r');
    try {
      const info = await handle.stat();
      const problem = passfileModeProblem(passfile, info.mode, info.isFile());
      if (problem !== undefined) {
        // As libpq does (its warning, on stderr, and no password): skypg and the WAL receiver,
        // pg_basebackup and pg_rewind it starts must agree on whether the file counts.
        if (!reported.has(passfile)) process.stderr.write(`WARNING: ${problem}\n`);
        reported.add(passfile);
        return undefined;
      }
      text = await handle.readFile('utf8');
      lastRead.set(passfile, { identity: identityOf(info), text });
    } finally {
      await handle.close();
    }
  } catch {
    return undefined; // libpq ignores an unreadable password file too
  }
  return findPassword(text, query);
}
