// Environment variables: an empty value counts as unset (`SKYPG_CONFIG= skypg ...`).
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
