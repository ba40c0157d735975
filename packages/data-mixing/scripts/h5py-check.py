"""Dev-only check of the score-map formats (not part of the package, not run in CI).

Driven by `h5py-check.mjs` beside this file (run that one):

    python3 h5py-check.py <work-dir> [<official-root>]

1. ours/: HDF5 files that `writeSmiycScoreMap` wrote, each beside `<name>.ref.npy` (the float32
   scores given to the writer). Each is read the way SegmentMeIfYouCan's evaluation reads a frame
   (`ChannelLoaderHDF5.read_file` + `np.squeeze`; imported from <official-root>/road-anomaly-
   benchmark when given, else the same two h5py calls) and must equal
   `ref.astype(np.float16)` bit for bit, as float16, shape (H, W), gzip level 9 unless the file
   name says `c0` (uncompressed).
2. infer/ (when the driver ran `densehybrid infer --format smiyc`): <work-dir>/datasets holds a
   synthetic `dataset_ObstacleTrack`, <work-dir>/outputs is infer's --out. With <official-root>,
   the benchmark's own `Evaluation('DenseHybrid', 'ObstacleTrack-all')` lists the frames (its
   dataset registry, `dset_name`, `fid`) and reads each frame's `anomaly_p` channel, exactly as
   `run_metric_single` does; each must equal infer's standard `<frame>.scores.npy` (float16).
3. theirs/: files written here with h5py, numpy and PIL in the layouts other frameworks use, each
   with `<name>.ref.npy` (the float32 values `readScoreMap` must return) and an entry in
   theirs/manifest.json; the driver reads them back with `readScoreMap` / `readClosedSetMap`.
4. With --fixtures <dir> (after the other arguments): the few small files of 3. that the vitest
   suite reads, written into <dir>.

Prints one line per check and `h5py-check: N passed, M failed` last; exit code 1 on a failure.
"""

import json
import os
import sys
import types

import h5py
import numpy as np

args = [a for a in sys.argv[1:]]
fixtures = None
if '--fixtures' in args:
    i = args.index('--fixtures')
    fixtures = args[i + 1]
    del args[i : i + 2]
WORK = args[0]
OFFICIAL = args[1] if len(args) > 1 else None

passed = 0
failed = 0


def report(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'ok  ' if ok else 'FAIL'} {what}")


# ---- the official reader ---------------------------------------------------------------------

official_read = None
Evaluation = None
if OFFICIAL:
    # the benchmark imports IPython for notebooks only; a stand-in when it is not installed
    try:
        import IPython.display  # noqa: F401
    except ImportError:
        ip = types.ModuleType('IPython')
        ipd = types.ModuleType('IPython.display')
        ipd.display_html = lambda *a, **k: None
        ip.display = ipd
        sys.modules['IPython'] = ip
        sys.modules['IPython.display'] = ipd
    os.environ['DIR_OUTPUTS'] = os.path.join(WORK, 'outputs')
    os.environ['DIR_DATASETS'] = os.path.join(WORK, 'datasets')
    sys.path.insert(0, os.path.join(OFFICIAL, 'road-anomaly-benchmark'))
    from road_anomaly_benchmark.datasets.dataset_io import ChannelLoaderHDF5  # noqa: E402
    from road_anomaly_benchmark.evaluation import Evaluation  # noqa: E402,F811

    loader = ChannelLoaderHDF5(var_name='value')

    def official_read(path):
        return np.squeeze(loader.read_file(path))

    print(f'reader: road_anomaly_benchmark ChannelLoaderHDF5 from {OFFICIAL}')
else:

    def official_read(path):
        # ChannelLoaderHDF5.read_file, then np.squeeze as Evaluation.run_metric_single
        with h5py.File(path, 'r') as f:
            return np.squeeze(f['value'][:])

    print("reader: h5py.File(path, 'r')['value'][:] + np.squeeze (no official root given)")
print(f'h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}, numpy {np.__version__}')


def same_f16(a, b):
    return a.dtype == np.float16 and a.shape == b.shape and np.array_equal(a.view(np.uint16), b.view(np.uint16))


# ---- 1. files writeSmiycScoreMap wrote -------------------------------------------------------

ours = os.path.join(WORK, 'ours')
for name in sorted(os.listdir(ours)):
    if not name.endswith('.hdf5'):
        continue
    path = os.path.join(ours, name)
    with np.errstate(over='ignore'):  # values above 65519 become inf, as the writer's
        ref = np.load(path[: -len('.hdf5')] + '.ref.npy').astype(np.float16)
    got = official_read(path)
    with h5py.File(path, 'r') as f:
        d = f['value']
        level = 0 if '-c0' in name else 9
        layout = (d.compression, d.compression_opts) == ((None, None) if level == 0 else ('gzip', 9))
        keys = list(f.keys())
    report(
        same_f16(got, ref) and layout and keys == ['value'],
        f'ours/{name}: {got.dtype} {got.shape}, compression {d.compression} {d.compression_opts}, keys {keys}, equals ref.astype(np.float16) bitwise',
    )

# ---- 2. infer --format smiyc, read by the benchmark's Evaluation -----------------------------

infer_std = os.path.join(WORK, 'infer-standard')
if os.path.isdir(infer_std):
    if Evaluation is not None:
        ev = Evaluation(method_name='DenseHybrid', dataset_name='ObstacleTrack-all', threaded_saver=False)
        frames = list(ev.get_dataset())
        n = 0
        for fr in frames:
            # as Evaluation.run_metric_single
            anomaly_p = ev.channels['anomaly_p'].read(method_name='DenseHybrid', dset_name=fr.dset_name, fid=fr.fid)
            anomaly_p = np.squeeze(anomaly_p)
            ref = np.load(os.path.join(infer_std, f'{fr.fid}.scores.npy'))
            ok = same_f16(anomaly_p, ref) and anomaly_p.shape == fr.image.shape[:2]
            n += ok
            report(ok, f'infer --format smiyc: {fr.dset_name}/{fr.fid} read by Evaluation.channels["anomaly_p"]: {anomaly_p.dtype} {anomaly_p.shape} equals <frame>.scores.npy')
        report(len(frames) > 0 and n == len(frames), f'infer --format smiyc: the benchmark found {len(frames)} frames, all read')
    else:
        outputs = os.path.join(WORK, 'outputs', 'anomaly_p', 'DenseHybrid', 'ObstacleTrack-all')
        names = sorted(f for f in os.listdir(outputs) if f.endswith('.hdf5'))
        for name in names:
            got = official_read(os.path.join(outputs, name))
            ref = np.load(os.path.join(infer_std, name[: -len('.hdf5')] + '.scores.npy'))
            report(same_f16(got, ref), f'infer --format smiyc: ObstacleTrack-all/{name} equals <frame>.scores.npy')

# ---- 3. files other frameworks write ---------------------------------------------------------


def make_theirs(out, small):
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(15)
    h, w = (6, 8) if small else (48, 64)
    s = (rng.rand(h, w) * 4 - 1).astype(np.float64)
    manifest = []

    def ref(name, values, kind='scores', **read):
        np.save(os.path.join(out, f'{name}.ref.npy'), values.astype(np.float32))
        manifest.append({'file': name, 'ref': f'{name}.ref.npy', 'kind': kind, 'read': read})

    # h5py defaults as SMIYC's ChannelLoaderHDF5.write_file: chunked (guessed), gzip 9
    with h5py.File(os.path.join(out, 'h5py-gzip9-f16.hdf5'), 'w') as f:
        f.create_dataset('value', data=s.astype(np.float16), compression=9)
    ref('h5py-gzip9-f16.hdf5', s.astype(np.float16))
    # several chunks, shuffle + gzip, a leading axis of 1 (np.squeeze drops it)
    with h5py.File(os.path.join(out, 'h5py-chunks-shuffle-1hw.h5'), 'w') as f:
        f.create_dataset('value', data=s.astype(np.float16)[None], chunks=(1, 4, 4), shuffle=True, compression='gzip')
    ref('h5py-chunks-shuffle-1hw.h5', s.astype(np.float16))
    # another framework's key, float32, contiguous, beside a second dataset
    with h5py.File(os.path.join(out, 'h5py-key-f32.h5'), 'w') as f:
        f.create_dataset('scores', data=s.astype(np.float32))
        f.create_dataset('meta', data=np.arange(3))
    ref('h5py-key-f32.h5', s.astype(np.float32), key='scores')
    if not small:
        # big-endian float64, the earliest file format
        with h5py.File(os.path.join(out, 'h5py-f8-be.h5'), 'w', libver='earliest') as f:
            f.create_dataset('value', data=s.astype('>f8'))
        ref('h5py-f8-be.h5', s.astype(np.float32))
        # latest file format (as our writer), gzip
        with h5py.File(os.path.join(out, 'h5py-latest.h5'), 'w', libver='latest') as f:
            f.create_dataset('value', data=s.astype(np.float16), compression='gzip', compression_opts=4)
        ref('h5py-latest.h5', s.astype(np.float16))
        # a user block before the HDF5 signature
        with h5py.File(os.path.join(out, 'h5py-userblock.h5'), 'w', userblock_size=512) as f:
            f.create_dataset('value', data=s.astype(np.float32))
        ref('h5py-userblock.h5', s.astype(np.float32))
        # closed-set predictions: uint8 and int64
        with h5py.File(os.path.join(out, 'h5py-closed-u1.h5'), 'w') as f:
            f.create_dataset('value', data=(np.arange(h * w) % 19).astype(np.uint8).reshape(h, w), compression=9)
        ref('h5py-closed-u1.h5', (np.arange(h * w) % 19).reshape(h, w), kind='closed')
    # numpy
    np.savez(os.path.join(out, 'savez-f16.npz'), s.astype(np.float16))
    ref('savez-f16.npz', s.astype(np.float16))
    np.savez_compressed(os.path.join(out, 'savez-compressed-f8.npz'), scores=s)
    ref('savez-compressed-f8.npz', s.astype(np.float32))
    np.savez_compressed(os.path.join(out, 'savez-two.npz'), hybrid=s.astype(np.float32), closed=(np.arange(h * w) % 7).reshape(h, w))
    ref('savez-two.npz', s.astype(np.float32), key='hybrid')
    np.save(os.path.join(out, 'save-f8.npy'), s)
    ref('save-f8.npy', s.astype(np.float32))
    if not small:
        np.save(os.path.join(out, 'save-f4-1hw.npy'), s.astype(np.float32)[None])
        ref('save-f4-1hw.npy', s.astype(np.float32))
        np.savez(os.path.join(out, 'savez-closed-i8.npz'), (np.arange(h * w) % 19).reshape(h, w).astype(np.int64))
        ref('savez-closed-i8.npz', (np.arange(h * w) % 19).reshape(h, w), kind='closed')
    # 16-bit greyscale PNG (PIL), scores in [0, 1] as round(s * 65535)
    from PIL import Image

    u16 = np.round(np.clip((s + 1) / 4, 0, 1) * 65535).astype(np.uint16)
    Image.fromarray(u16).save(os.path.join(out, 'pil-16bit.png'))
    scale, offset = 1 / 65535, -0.25
    ref('pil-16bit.png', (u16.astype(np.float64) * scale + offset).astype(np.float32), pngScale=scale, pngOffset=offset)
    if not small:
        Image.fromarray((u16 >> 8).astype(np.uint8)).save(os.path.join(out, 'pil-8bit.png'))
        manifest.append({'file': 'pil-8bit.png', 'kind': 'refused', 'read': {'pngScale': 1 / 255}})
    json.dump(manifest, open(os.path.join(out, 'manifest.json'), 'w'), indent=1)
    return manifest


theirs = make_theirs(os.path.join(WORK, 'theirs'), small=False)
report(True, f'theirs/: wrote {len(theirs)} files with h5py / numpy / PIL for readScoreMap')
if fixtures:
    small = make_theirs(fixtures, small=True)
    report(True, f'fixtures: wrote {len(small)} files into {fixtures}')

print(f'h5py-check: {passed} passed, {failed} failed')
sys.exit(1 if failed else 0)
