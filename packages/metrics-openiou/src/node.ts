/**
 * `@densehybrid/metrics-openiou/node`: the Node-only part of the package (file system; no other
 * dependency). The main entry stays free of `node:` imports so it runs in browsers.
 */
export {
  writeFileAtomic,
  writeFileSynced,
  writeDirectoryAtomic,
  recoverDirectory,
  openStagedDir,
} from './node/fs-atomic.js';
export type { StagedDir, StagedDirOptions } from './node/fs-atomic.js';
export { readNpy, writeNpy } from './node/npy.js';
export {
  resumeKeyDifferences,
  describeResumeKeyDifferences,
  sha256,
  canonicalJson,
} from './node/resume-key.js';
export type { ResumeKey, ResumeKeyValue, ResumeKeyDifference } from './node/resume-key.js';
export { readZip, crc32, DEFAULT_READ_ZIP_OPTIONS } from './node/zip.js';
export type { ZipArchive, ZipEntry, ReadZipOptions } from './node/zip.js';
export {
  SESSION_STATE_FILE,
  SessionStateWriter,
  readSessionState,
  readSessionStateIndex,
} from './node/session-state.js';
export type { SessionStateIndex, SessionStateRead } from './node/session-state.js';
