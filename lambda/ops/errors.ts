/** The operator commands' errors: each says what went wrong and what to do, and the CLI exits 2 on it. */

import { KeydriftError } from '../core/errors';

/** A problem the operator can fix (credentials, Region, stack, table, key name); the message says how. */
export class OperatorError extends KeydriftError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OperatorError';
  }
}
