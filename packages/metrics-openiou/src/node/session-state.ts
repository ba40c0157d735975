/**
 * Session state folders: an {@link EvaluationSession} persisted incrementally, so that a long
 * evaluation can be resumed after a crash and the states of several processes (shards) merged.
 *
 * A folder holds
 * - `session-state.json`: `{ format: 'densehybrid/session-state', version: 1, meta, session }`,
 *   the session's JSON ({@link EvaluationSession.toJSON}) with every exact score store
 *   *offloaded* (only its counts, per kind and side), and the caller's `meta`; replaced
 *   atomically, so it always describes a consistent state;
 * - `exact/<id>.<pos|neg>.<f32|f64>` (exact mode): the stores' scores, appended as frames come
 *   (ordered float32 keys or float64, little-endian). Only the first `offloaded` values count:
 *   what a crash appended after the last index write is cut off when the folder is reopened.
 *
 * Histogram mode has no `exact/` files and a small index. Memory: while accumulating, exact
 * scores go to the files after every frame; {@link SessionStateWriter.restore} and
 * {@link readSessionState} read them into exactly sized arrays (4 bytes per non-ignored pixel
 * for float32 scores), nothing else is copied.
 */
import { mkdir, open, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { DenseHybridError, describeValue } from '../errors.js';
import type { ExactKind, ExactScores, ExactSide } from '../exact.js';
import { EvaluationSession, type EvaluationSessionJSON } from '../session.js';
import { writeFileAtomic } from './fs-atomic.js';

/** The index file of a session state folder. */
export const SESSION_STATE_FILE = 'session-state.json';

const FORMAT = 'densehybrid/session-state';

/** What `session-state.json` holds. */
export interface SessionStateIndex<M = unknown> {
  readonly format: typeof FORMAT;
  readonly version: 1;
  /** The caller's record (the CLI: its resume key, shard and progress). */
  readonly meta: M;
  /** The session, exact stores offloaded to `exact/`. */
  readonly session: EvaluationSessionJSON;
}

const KINDS = ['f32', 'f64'] as const;
const SIDES = ['pos', 'neg'] as const;
const WIDTH: Record<ExactKind, number> = { f32: 4, f64: 8 };

const fileOf = (dir: string, id: string, side: ExactSide, kind: ExactKind): string =>
  join(dir, 'exact', `${id}.${side}.${kind}`);

function ioError(fn: string, what: string, e: unknown): DenseHybridError {
  return new DenseHybridError('IO', `${fn}: expected to ${what}, got ${(e as Error).message}`, {
    cause: e,
  });
}

/**
 * Reads a folder's `session-state.json`.
 *
 * @returns the index; `undefined` when the folder has none; `null` when it is not a session
 *   state (unparsable, another format or version)
 * @throws DenseHybridError `IO` when the file exists but cannot be read
 * @example
 * ```ts
 * const index = await readSessionStateIndex('out.partial/.eval-state');
 * if (index) console.log(index.meta, index.session.frames);
 * ```
 */
export async function readSessionStateIndex<M = unknown>(
  dir: string,
): Promise<SessionStateIndex<M> | null | undefined> {
  const path = join(dir, SESSION_STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError('readSessionStateIndex', `read ${JSON.stringify(path)}`, e);
  }
  try {
    const j = JSON.parse(text) as SessionStateIndex<M>;
    return typeof j === 'object' && j !== null && j.format === FORMAT && j.version === 1 ? j : null;
  } catch {
    return null;
  }
}

/** Per store, kind and side: how many scores the state's files hold (its offloaded counts). */
function storeCounts(session: EvaluationSession): Map<string, ExactScores['offloaded']> {
  return new Map(session.exactStores().map((s) => [s.id, structuredClone(s.store.offloaded)]));
}

/** Reads `bytes.length` bytes from the start of each file in turn into `bytes`. */
async function fillFrom(
  fn: string,
  parts: readonly { readonly path: string; readonly bytes: number }[],
  bytes: Uint8Array,
): Promise<void> {
  let at = 0;
  for (const p of parts) {
    if (p.bytes === 0) continue;
    let handle;
    try {
      handle = await open(p.path, 'r');
      let done = 0;
      while (done < p.bytes) {
        const { bytesRead } = await handle.read(bytes, at + done, p.bytes - done, done);
        if (bytesRead === 0) {
          throw new Error(`file ends after ${done} of ${p.bytes} bytes`);
        }
        done += bytesRead;
      }
    } catch (e) {
      throw ioError(fn, `read the exact scores ${JSON.stringify(p.path)}`, e);
    } finally {
      await handle?.close();
    }
    at += p.bytes;
  }
  if (at !== bytes.length) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected ${bytes.length} bytes of exact scores, got ${at} in the state files`,
    );
  }
}

/**
 * Restores the offloaded exact stores of `session` from the folders' files; `counts[k]` are the
 * counts that folder `dirs[k]` holds (its index's), concatenated in folder order.
 */
async function restoreFrom(
  fn: string,
  session: EvaluationSession,
  dirs: readonly string[],
  counts: readonly Map<string, ExactScores['offloaded']>[],
): Promise<void> {
  for (const { id, store } of session.exactStores()) {
    await store.restore(async (kind, side, bytes) => {
      const parts = dirs.map((dir, k) => ({
        path: fileOf(dir, id, side, kind),
        bytes: (counts[k]?.get(id)?.[kind][side] ?? 0) * WIDTH[kind],
      }));
      await fillFrom(fn, parts, bytes);
    });
  }
}

/**
 * Writes an {@link EvaluationSession}'s state into a folder, incrementally: {@link append} after
 * each frame moves the new exact scores from memory to the folder's files (nothing is written
 * twice), {@link commit} makes them and the session's other accumulators the folder's state.
 *
 * @example
 * ```ts
 * const writer = await SessionStateWriter.open('state', session);
 * for (const f of frames) {
 *   session.addFrame(f);
 *   await writer.append();                         // exact mode: the frame's scores to state/exact/
 *   if (++n % 25 === 0) await writer.commit({ n }); // the index: resumable from here
 * }
 * await writer.commit({ n });
 * await writer.restore(); // exact scores back in memory, to compute
 * const result = session.finish();
 * await writer.close();
 * ```
 */
export class SessionStateWriter {
  private readonly handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  private restored = false;

  private constructor(
    /** The folder. */
    readonly dir: string,
    private readonly session: EvaluationSession,
  ) {}

  /**
   * Opens `dir` (created if missing) for `session`: a new session, or one restored from the
   * folder's index (`EvaluationSession.fromJSON(index.session)`), whose offloaded counts say how
   * much of each file is state; anything after that (written before a crash) is cut off.
   *
   * @throws DenseHybridError `INVALID_INPUT` when a file holds fewer scores than the session
   *   counts (the folder was damaged), `IO` when it cannot be written
   */
  static async open(dir: string, session: EvaluationSession): Promise<SessionStateWriter> {
    const fn = 'SessionStateWriter.open';
    try {
      await mkdir(join(dir, 'exact'), { recursive: true });
    } catch (e) {
      throw ioError(fn, `create ${JSON.stringify(join(dir, 'exact'))}`, e);
    }
    // every file checked before any is cut: a refused folder stays as it was
    const files: { path: string; want: number; size: number }[] = [];
    for (const { id, store } of session.exactStores()) {
      for (const kind of KINDS) {
        for (const side of SIDES) {
          const path = fileOf(dir, id, side, kind);
          const want = store.offloaded[kind][side] * WIDTH[kind];
          const size = (await stat(path).catch(() => undefined))?.size ?? 0;
          if (size < want) {
            throw new DenseHybridError(
              'INVALID_INPUT',
              `${fn}: expected ${want} bytes in ${JSON.stringify(path)} as the state's index records, got ${size} (the state folder is damaged; start over)`,
            );
          }
          files.push({ path, want, size });
        }
      }
    }
    for (const f of files) {
      if (f.size === f.want) continue;
      try {
        await truncate(f.path, f.want);
      } catch (e) {
        throw ioError(fn, `cut ${JSON.stringify(f.path)} to its recorded size`, e);
      }
    }
    return new SessionStateWriter(dir, session);
  }

  private async handle(path: string): Promise<Awaited<ReturnType<typeof open>>> {
    let h = this.handles.get(path);
    if (h === undefined) {
      h = await open(path, 'a');
      this.handles.set(path, h);
    }
    return h;
  }

  /**
   * Moves the exact scores the session holds in memory to the files (exact mode; nothing in
   * histogram mode). Call it after each `addFrame`, before the next.
   *
   * @throws DenseHybridError `IO`; `INVALID_INPUT` after {@link restore}
   */
  async append(): Promise<void> {
    const fn = 'SessionStateWriter.append';
    if (this.restored) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a session whose exact scores are in the files, got one restored into memory`,
      );
    }
    for (const { id, store } of this.session.exactStores()) {
      if (store.posLen + store.negLen === 0) continue;
      const d = store.drain();
      for (const side of SIDES) {
        const a = d[side];
        if (a.length === 0) continue;
        const path = fileOf(this.dir, id, side, d.kind);
        try {
          const h = await this.handle(path);
          const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
          let done = 0;
          while (done < bytes.length) {
            const { bytesWritten } = await h.write(bytes, done, bytes.length - done);
            done += bytesWritten;
          }
        } catch (e) {
          throw ioError(fn, `append to ${JSON.stringify(path)}`, e);
        }
      }
    }
  }

  /**
   * Makes the current session the folder's state: appends what is held, fsyncs the files, then
   * replaces `session-state.json` atomically with `meta` and the session (or `session`, a JSON
   * of it with the exact stores offloaded: e.g. the first pass's JSON with a later component
   * pass, after {@link restore}).
   *
   * @throws DenseHybridError `IO`
   */
  async commit(meta: unknown, session?: EvaluationSessionJSON): Promise<void> {
    const fn = 'SessionStateWriter.commit';
    if (!this.restored) await this.append();
    else if (session === undefined) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected the session's JSON with offloaded stores after restore(), got none`,
      );
    }
    try {
      for (const h of this.handles.values()) await h.sync();
    } catch (e) {
      throw ioError(fn, `flush the exact scores in ${JSON.stringify(this.dir)}`, e);
    }
    const index: SessionStateIndex = {
      format: FORMAT,
      version: 1,
      meta,
      session: session ?? this.session.toJSON(),
    };
    await writeFileAtomic(fn, join(this.dir, SESSION_STATE_FILE), JSON.stringify(index));
  }

  /**
   * Reads the exact scores back into the session's stores (exactly sized arrays), so that it
   * can compute; afterwards {@link append} is refused and {@link commit} needs the session's
   * JSON from before (e.g. with {@link EvaluationSession.componentPassState} set in).
   *
   * @throws DenseHybridError `IO`, `INVALID_INPUT` (a file shorter than recorded)
   */
  async restore(): Promise<void> {
    await this.append();
    for (const h of this.handles.values()) await h.close();
    this.handles.clear();
    await restoreFrom(
      'SessionStateWriter.restore',
      this.session,
      [this.dir],
      [storeCounts(this.session)],
    );
    this.restored = true;
  }

  /** Closes the files. */
  async close(): Promise<void> {
    for (const h of this.handles.values()) await h.close();
    this.handles.clear();
  }
}

/** What {@link readSessionState} returns. */
export interface SessionStateRead<M = unknown> {
  /** The folders' sessions merged in order, exact scores in memory. */
  readonly session: EvaluationSession;
  /** Each folder's index, in the order given. */
  readonly indexes: readonly SessionStateIndex<M>[];
}

/**
 * Reads one or more session state folders and merges them in the order given
 * ({@link EvaluationSession.merge}: the shards of one evaluation, in shard order, give the
 * session of one process), with every exact score read into one exactly sized array per store.
 * `check(index, dir)` sees each index first and may throw to refuse it (e.g. another run's).
 *
 * @throws DenseHybridError `INVALID_INPUT` naming the folder for a missing or malformed state,
 *   sessions that accumulate differently or files shorter than recorded; `IO`
 * @example
 * ```ts
 * const { session } = await readSessionState(['states/shard-0', 'states/shard-1']);
 * const result = session.finish();
 * ```
 */
export async function readSessionState<M = unknown>(
  dirs: readonly string[],
  check?: (index: SessionStateIndex<M>, dir: string) => void,
): Promise<SessionStateRead<M>> {
  const fn = 'readSessionState';
  if (!Array.isArray(dirs) || dirs.length === 0) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected one or more state folders, got ${describeValue(dirs)}`,
    );
  }
  const indexes: SessionStateIndex<M>[] = [];
  const counts: Map<string, ExactScores['offloaded']>[] = [];
  let merged: EvaluationSession | null = null;
  for (const dir of dirs) {
    const index = await readSessionStateIndex<M>(dir);
    if (index === undefined || index === null) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a session state (${SESSION_STATE_FILE}) in ${JSON.stringify(dir)}, got ${index === undefined ? 'none' : 'an unreadable file'}`,
      );
    }
    check?.(index, dir);
    let session: EvaluationSession;
    try {
      session = EvaluationSession.fromJSON(index.session);
    } catch (e) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a valid session in ${JSON.stringify(dir)}, got ${(e as Error).message}`,
        { cause: e },
      );
    }
    indexes.push(index);
    counts.push(storeCounts(session));
    if (merged === null) merged = session;
    else merged.merge(session);
  }
  const session = merged as EvaluationSession;
  await restoreFrom(fn, session, dirs, counts);
  return { session, indexes };
}
