// WAL positions ("16/B374D848") as exact integers, for byte differences without SQL.

export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match?.[1] || !match[2]) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** Bytes from `behind` to `ahead`, never negative (reads of two LSNs are not atomic). */
export function lsnDistance(ahead: string, behind: string): number {
  const difference = parseLsn(ahead) - parseLsn(behind);
  return difference > 0n ? Number(difference) : 0;
}
