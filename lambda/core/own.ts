/** `table[key]` when the table itself holds `key`: record text may name `constructor`, `toString` or `__proto__`. */
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
