/**
 * A replay worker: reads, decompresses and parses the files the main thread hands it, and sends back
 * only the watched writes and the counts, so the main thread never holds a whole log file.
 */
import { parentPort } from 'node:worker_threads';
import { type ParseRequest, readInputFile } from './parse-file';

parentPort?.on('message', ({ path, options }: ParseRequest) => {
  parentPort?.postMessage(readInputFile(path, options));
});
