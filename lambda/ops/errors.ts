/** The operator commands' errors: each says what went wrong and what to do, and the CLI exits 2 on it. */

import { KeydriftError } from '../core/errors';

/** A problem the operator can fix (credentials, Region, stack, table, key name); the message says how. */
export class OperatorError extends KeydriftError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OperatorError';
  }
}

/** One attribute of a table's key, as DynamoDB describes it (`type`: S, N or B). */
export interface KeyAttribute {
  name: string;
  type?: string;
}

/**
 * The table named is no keydrift table: its key is not keydrift's (lambda/adapters/table-key.ts). `key` is the table's own
 * key when DescribeTable told it (it may be denied).
 */
export class TableKeyError extends KeydriftError {
  constructor(
    public readonly tableName: string,
    public readonly key: KeyAttribute[] | undefined,
    options?: ErrorOptions,
  ) {
    super(`table ${tableName} is not a keydrift table`, options);
    this.name = 'TableKeyError';
  }
}
