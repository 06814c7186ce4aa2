/** keydrift's own errors. Each sets `name` and keeps the original error as `cause`. */

export class KeydriftError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeydriftError';
  }
}

/** A record that cannot be read as a CloudTrail record or KMS event; `where` names the file and record. */
export class RecordError extends KeydriftError {
  constructor(
    message: string,
    public readonly where?: string,
    options?: ErrorOptions,
  ) {
    super(where ? `${where}: ${message}` : message, options);
    this.name = 'RecordError';
  }
}

/** A configuration file or value that does not fit; the message names the field. */
export class ConfigError extends KeydriftError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}
