/**
 * The key of keydrift's table, as lib/keydrift.ts creates it: a string partition key `pk` and a string sort key `sk`
 * (state-store.ts lays the items out on it). The operator commands refuse a table of another key.
 */
export const TABLE_KEY = { partitionKey: 'pk', sortKey: 'sk' } as const;
