/**
 * A replay worker: reads, decompresses and parses the files the main thread hands it, and sends back
 * only the watched writes, the counts and the records' ID fingerprints, so the main thread never holds a
 * whole log file.
 */
import { parentPort } from 'node:worker_threads';
import { type FileResult, type ParseRequest, readInputFile } from './parse-file';

parentPort?.on('message', async ({ path, options }: ParseRequest) => {
  const result = await readInputFile(path, options);
  const sent: FileResult<Uint32Array> = {
    ...result,
    readIds: Uint32Array.from(result.readIds),
    otherIds: Uint32Array.from(result.otherIds),
  };
  parentPort?.postMessage(sent);
});
