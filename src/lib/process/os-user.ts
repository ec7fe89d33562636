// The local accounts skypg runs programs as: their entry in /etc/passwd (uid, gid, home).
import { readFileSync } from 'node:fs';

export interface OsAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The account's /etc/passwd entry; undefined when there is none (or the file is unreadable). */
export function osAccount(name: string): OsAccount | undefined {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  const line = passwd.split('\n').find((entry) => entry.startsWith(`${name}:`));
  const [, , uid, gid, , home] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined || home === undefined) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), home };
}
