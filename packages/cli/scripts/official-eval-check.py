"""Dev-only driver of `official-eval-check.mjs` (not part of the package, not run in CI).

Runs the benchmarks' official evaluation code, unchanged, from checkouts outside this repository
on the files `official-eval-check.mjs` wrote (labels and images in each benchmark's layout, the
score maps and closed-set predictions `densehybrid eval --scores` read), and writes the numbers
as JSON:

    python3 official-eval-check.py <official-root> <manifest.json> <out.json>

Nothing of that code is copied here: this file imports it (or, for anomaly-seg's `eval_ood.py`,
whose module body needs the ADE20k colour table and a CUDA model, compiles its
`eval_ood_measure` function from the file as it is) and calls it:

- SMIYC (road-anomaly-benchmark): `Evaluation.save_output` writes the maps as the benchmark's
  float16 HDF5 submission files, `Evaluation.calculate_metric_from_saved_outputs` (the
  `metric` command's call; `parallel=False`, `--no-parallel`) computes `PixBinaryClass` and
  `SegEval-AnomalyTrack` / `SegEval-ObstacleTrack` on its own `AnomalyTrack-all` /
  `ObstacleTrack-all` datasets, read from `DIR_DATASETS`.
- Fishyscapes (bdl-benchmark): `FishyscapesValidation.evaluate` (→ `calculate_metrics_perpixAP`)
  over the `_labels.png` masks, with an estimator that returns each frame's map.
- StreetHazards (anomaly-seg): `eval_ood.py`'s `eval_ood_measure` per image with the labels of
  `dataset.py`'s `segm_transform` and `defaults.py`'s `cfg.OOD.out_labels`, averaged as
  `eval_ood.py`'s `evaluate` does.
- The DenseHybrid authors: `evaluate_osr.py` and `evaluate_ood.py --dataset street-hazards`
  run as scripts (`runpy`, their `__main__` blocks) on their own StreetHazards loaders.

Stand-ins, and only where the called code never uses them:
- modules not installed here: tensorflow / tensorflow_datasets (bdlb's tfds dataset builders),
  IPython (notebook display), cv2 (road-anomaly-benchmark resizes maps with it only when they
  are smaller than the image), seaborn, yacs (anomaly-seg's `defaults.py` only builds a tree of
  attributes with it: a dict with attribute access stands in); the JSON names those imported;
- bdlb's package modules around `benchmark.py` (its tfds builder, levels, constants), as
  `benchmark.py` imports them; tf tensors are replaced by objects with `.numpy()`;
- the network: the authors' scripts build `LadderDenseNetTH` and load a checkpoint; a module
  without parameters stands in (an empty state dict loads into it `strict=True`) that returns,
  for the frame whose id its input image carries in its first pixel, logits whose argmax is the
  closed-set prediction and whose logsumexp is exactly −score, and a posterior head with
  P(d_out|x) = 1, so the authors' score −logsumexp(s) + ln P(d_out|x) is the score map;
- `.cuda()` / `.to('cuda')` are no-ops (no GPU here); the authors' import-time colour tables
  build ragged arrays as numpy < 1.24 allowed; `evaluations/base.py`'s logger rounds to two
  decimals: its `round` is the identity so that every digit is logged.
"""

import ast
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import os
import re
import runpy
import sys
import types

import numpy as np

ROOT, MANIFEST, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
M = json.load(open(MANIFEST))
WORK = M['work']
results = {'numpy': np.__version__}


# ---- stand-ins for modules that are not installed and that the called code never uses ---------

class _Dummy:
    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Dummy()

    def __getattr__(self, name):
        return _Dummy()

    def __iter__(self):
        return iter(())


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return type(name, (_Dummy,), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, tops):
        self.tops = tops

    def find_spec(self, fullname, path, target=None):
        if fullname.split('.')[0] in self.tops:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        if spec.name.split('.')[0] not in results['stubbed']:
            results['stubbed'].append(spec.name.split('.')[0])
        m = _StubModule(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def missing(names):
    out = []
    for n in names:
        try:
            importlib.import_module(n)
        except ImportError:
            out.append(n)
    return out


# stood in for when imported (the list written out names those that were)
results['stubbed'] = []
sys.meta_path.insert(0, _StubFinder(set(missing(
    ['IPython', 'cv2', 'seaborn', 'tensorflow', 'tensorflow_datasets']))))


@contextlib.contextmanager
def on_path(folder):
    """Imports from `folder` (each checkout has top-level modules such as utils)."""
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.path.remove(folder)


def quiet(fn, *a, **k):
    """fn(*a, **k) with its prints captured: (result, printed text)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        r = fn(*a, **k)
    return r, buf.getvalue()


# ---- SegmentMeIfYouCan: road_anomaly_benchmark ----------------------------------------------------

os.environ['DIR_DATASETS'] = M['smiyc']['anomaly']['root']
os.environ['DIR_OUTPUTS'] = os.path.join(WORK, 'smiyc-official-outputs')
with on_path(os.path.join(ROOT, 'road-anomaly-benchmark')):
    from road_anomaly_benchmark.evaluation import Evaluation
    from road_anomaly_benchmark.datasets import DatasetRegistry
    from road_anomaly_benchmark.metrics.instance_segmentation import MetricSegment
    from road_anomaly_benchmark.metrics.pixel_classification import MetricPixelClassification
from easydict import EasyDict  # noqa: E402
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve  # noqa: E402,E501

# counts of components per frame: process_frame's own result, recorded on its way out
COMPONENTS = []
_seg_process_frame = MetricSegment.process_frame


def _recording_process_frame(self, *a, **k):
    r = _seg_process_frame(self, *a, **k)
    COMPONENTS.append((len(r.sIoU_gt), len(r.sIoU_pred)))
    return r


MetricSegment.process_frame = _recording_process_frame


def smiyc(track, dset, seg_metric):
    info = M['smiyc'][track]
    ev = Evaluation(method_name='densehybrid-check', dataset_name=dset)
    # the submission: the maps eval --scores read, saved as the benchmark's HDF5 files
    fids = []
    for frame in ev.get_frames():
        ev.save_output(frame, np.load(os.path.join(info['maps'], 'scores', frame.fid + '.npy')))
        fids.append(frame.fid)
    ev.wait_to_finish_saving()
    if sorted(fids) != sorted(f['fid'] for f in info['frames']):
        raise RuntimeError(f'{dset}: the official loader found other frames than were written')
    pix, _ = quiet(ev.calculate_metric_from_saved_outputs, 'PixBinaryClass', parallel=False)
    COMPONENTS.clear()
    seg, _ = quiet(ev.calculate_metric_from_saved_outputs, seg_metric, parallel=False)
    out = {
        'frames': len(fids),
        'binned': {
            'ap': float(pix.area_PRC), 'auroc': float(pix.area_ROC), 'fpr95': float(pix.tpr95_fpr),
            'tpr95Threshold': float(pix.tpr95_threshold), 'bestF1': float(pix.best_f1),
            'bestF1Threshold': float(pix.best_f1_threshold),
        },
        'components': {
            'threshold': float(pix.best_f1_threshold),
            'thresholdFloat16': float(np.float16(pix.best_f1_threshold)),
            'sIoU': float(seg.sIoU_gt), 'sIoUPred': float(seg.sIoU_pred), 'ppv': float(seg.prec_pred),
            'meanF1': float(seg.f1_mean),
            'gtComponents': int(sum(g for g, _ in COMPONENTS)),
            'predComponents': int(sum(p for _, p in COMPONENTS)),
            **{f'{k}_{t}': float(getattr(seg, f'{k}_{t}')) for k in ('tp', 'fn', 'fp', 'f1')
               for t in (25, 50, 75)},
        },
    }
    # the exact values beside: the same official functions with one bin per pixel, and sklearn
    ds = DatasetRegistry.get(dset)
    labels, scores = [], []
    for fr in ds:
        labels.append(fr.label_pixel_gt)
        scores.append(np.load(os.path.join(info['maps'], 'scores', fr.fid + '.npy')))
    per_pixel = MetricPixelClassification(EasyDict(
        name='PixBinaryClass-onePerPixel', num_bins=2 * max(l.size for l in labels),
        bin_strategy='percentiles'))
    frs = [per_pixel.process_frame(label_pixel_gt=l, anomaly_p=s, visualize=False)
           for l, s in zip(labels, scores)]
    ex, _ = quiet(per_pixel.aggregate, frs, method_name='densehybrid-check', dataset_name=dset)
    y = np.concatenate([l[l < 255].reshape(-1) for l in labels]).astype(bool)
    s = np.concatenate([x[l < 255].reshape(-1) for x, l in zip(scores, labels)]).astype(np.float64)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    i95 = int(np.argmax(tpr >= 0.95))
    prec, rec, thr_pr = precision_recall_curve(y, s)
    with np.errstate(invalid='ignore', divide='ignore'):
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0)[:-1]
    out['exact'] = {
        'ap': float(ex.area_PRC), 'auroc': float(ex.area_ROC), 'fpr95': float(ex.tpr95_fpr),
        'tpr95Threshold': float(ex.tpr95_threshold), 'bestF1': float(ex.best_f1),
        'bestF1Threshold': float(ex.best_f1_threshold),
        'sklearnAP': float(average_precision_score(y, s)), 'sklearnAUROC': float(roc_auc_score(y, s)),
        'sklearnFPR95': float(fpr[i95]), 'sklearnTPR95Threshold': float(thr[i95]),
        'sklearnBestF1': float(np.max(f1)), 'sklearnBestF1Threshold': float(thr_pr[int(np.argmax(f1))]),
        'positives': int(y.sum()), 'negatives': int((~y).sum()),
        'ignored': int(sum(int((l == 255).sum()) for l in labels)),
    }
    return out


results['smiyc'] = {
    'anomaly': smiyc('anomaly', 'AnomalyTrack-all', 'SegEval-AnomalyTrack'),
    'obstacle': smiyc('obstacle', 'ObstacleTrack-all', 'SegEval-ObstacleTrack'),
}

# ---- Fishyscapes: bdlb/fishyscapes/benchmark.py ------------------------------------------------------

for name, attrs in {
    'bdlb': {}, 'bdlb.core': {}, 'bdlb.core.levels': {'Level': _Dummy},
    'bdlb.core.constants': {'DATA_DIR': '/nonexistent'},
    'bdlb.core.benchmark': {'Benchmark': _Dummy, 'DataSplits': _Dummy, 'BenchmarkInfo': _Dummy},
    'bdlb.core.transforms': {}, 'bdlb.fishyscapes': {},
    'bdlb.fishyscapes.fishyscapes_tfds': {'_CITATION': '', '_DESCRIPTION': '', 'Fishyscapes': _Dummy},
}.items():
    if name in sys.modules:
        continue
    m = types.ModuleType(name)
    m.__path__ = []
    m.__dict__.update(attrs)
    sys.modules[name] = m
    results['stubbed'].append(name)
import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location(
    'bdlb.fishyscapes.benchmark',
    os.path.join(ROOT, 'bdl-benchmark', 'bdlb', 'fishyscapes', 'benchmark.py'))
bdlb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bdlb)
from PIL import Image  # noqa: E402


class Tensor:
    """What a tf tensor offers bdlb's evaluate loop: .numpy()."""

    def __init__(self, a):
        self.a = a

    def numpy(self):
        return self.a


def frame_id(image):
    """The frame id the check wrote into an image's first pixel (R + 256 G)."""
    return int(image[0, 0, 0]) + 256 * int(image[0, 0, 1])


results['fishyscapes'] = {}
for variant, info in M['fishyscapes'].items():
    maps = {i: os.path.join(info['maps'], 'scores', f['id'] + '.npy') for i, f in enumerate(info['frames'])}
    dataset = []
    for i, f in enumerate(info['frames']):
        mask = np.array(Image.open(os.path.join(info['root'], f['label'])))[..., None]  # tfds 'mask'
        image = np.zeros((f['height'], f['width'], 3), np.uint8)
        image[0, 0, 0], image[0, 0, 1] = i % 256, i // 256
        dataset.append({'mask': Tensor(mask), 'image_left': Tensor(image)})
    r, _ = quiet(bdlb.FishyscapesValidation.evaluate,
                 lambda image: Tensor(np.load(maps[frame_id(image.numpy())])), dataset=dataset)
    results['fishyscapes'][variant] = {
        'ap': float(r['AP']), 'auroc': float(r['auroc']), 'fpr95': float(r['FPR@95%TPR']),
        'frames': len(dataset)}

# ---- StreetHazards: anomaly-seg eval_ood.py ------------------------------------------------------------

SH = M['streethazards']
K = SH['numClasses']


class _CfgNode(dict):
    """yacs' CfgNode as defaults.py uses it: nested attributes."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)

    def __setattr__(self, k, v):
        self[k] = v


if 'yacs' in missing(['yacs']):
    yacs = types.ModuleType('yacs')
    yacs.__path__ = []
    yacs_config = types.ModuleType('yacs.config')
    yacs_config.CfgNode = _CfgNode
    sys.modules['yacs'], sys.modules['yacs.config'] = yacs, yacs_config
    results['stubbed'].append('yacs')
AS = os.path.join(ROOT, 'anomaly-seg')
with on_path(AS):
    import anom_utils
    import dataset as as_dataset
    from defaults import _C as as_cfg
# eval_ood.py's own eval_ood_measure, compiled from the file unchanged
tree = ast.parse(open(os.path.join(AS, 'eval_ood.py')).read())
fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'eval_ood_measure')
ns = {'np': np, 'anom_utils': anom_utils}
exec(compile(ast.Module(body=[fn], type_ignores=[]), os.path.join(AS, 'eval_ood.py'), 'exec'), ns)
eval_ood_measure = ns['eval_ood_measure']

def eval_ood_per_fold(key):
    """eval_ood_measure on every frame's map f[key] (float16 'scores' or float32 'scores32')."""
    per_fold = {'t5': [], 't6': [], 'all': []}
    skipped = 0
    for f in SH['frames']:
        label = os.path.join(SH['root'], 'test/annotations/test', f['fold'], f"{f['index']}.png")
        seg_label = as_dataset.BaseDataset.segm_transform(None, Image.open(label)).numpy()
        conf = -np.load(f[key]).astype(np.float32)  # eval_ood.py's conf is a confidence: −score
        res, _ = quiet(eval_ood_measure, conf, seg_label, as_cfg, mask=None)
        if res is None:
            skipped += 1
            continue
        per_fold[f['fold']].append(res)
        per_fold['all'].append(res)
    return per_fold, skipped


def mean3(rs):
    a = np.array(rs)
    return {'auroc': float(np.mean(a[:, 0])), 'ap': float(np.mean(a[:, 1])),
            'fpr95': float(np.mean(a[:, 2])), 'frames': len(rs)}


per_fold, skipped = eval_ood_per_fold('scores')
results['streethazards'] = {'anomalySeg': {k: mean3(v) for k, v in per_fold.items()},
                            'anomalySegSkipped': skipped,
                            'outLabels': list(as_cfg.OOD.out_labels)}
per_fold32, skipped32 = eval_ood_per_fold('scores32')
results['streethazards32'] = {'anomalySeg': {k: mean3(v) for k, v in per_fold32.items()},
                              'anomalySegSkipped': skipped32}

# ---- the DenseHybrid authors: evaluate_osr.py, evaluate_ood.py ---------------------------------------

import torch  # noqa: E402

torch.Tensor.cuda = lambda self, *a, **k: self
torch.nn.Module.cuda = lambda self, *a, **k: self
_to = torch.Tensor.to
torch.Tensor.to = lambda self, *a, **k: self if (a and a[0] == 'cuda') else _to(self, *a, **k)
DH = os.path.join(ROOT, 'DenseHybrid')
sys.path.insert(0, DH)
for m in [m for m in sys.modules if m.split('.')[0] in ('utils', 'data', 'models', 'evaluations')]:
    del sys.modules[m]  # (none expected: the other checkouts' top-level modules are not these)
_array = np.array


def _ragged_ok(*a, **k):
    try:
        return _array(*a, **k)
    except ValueError:
        return _array(*a, **{**k, 'dtype': object})


np.array = _ragged_ok
import data as dh_data  # noqa: E402,F401
import models as dh_models  # noqa: E402
import evaluations.base as dh_base  # noqa: E402
np.array = _array

FRAMES = {f['gid']: f for f in SH['frames']}
SEEN = []
MAPS = {'key': 'scores'}  # which score maps the network's stand-in returns


def _load_closed(path):
    return np.load(path) if path.endswith('.npy') else np.array(Image.open(path))


class Net(torch.nn.Module):
    """The network's stand-in (see the module doc)."""

    def forward(self, img, shape=None):
        gid = int(round(float(img[0, 0, 0, 0]) * 255)) + 256 * int(round(float(img[0, 1, 0, 0]) * 255))
        f = FRAMES[gid]
        SEEN.append(gid)
        s = torch.from_numpy(np.load(f[MAPS['key']]).astype(np.float32))[None]
        c = torch.from_numpy(_load_closed(f['closed']).astype(np.int64))[None]
        if shape is not None and tuple(shape) != tuple(s.shape[1:]):
            raise RuntimeError(f'frame {gid}: label {tuple(shape)}, map {tuple(s.shape[1:])}')
        logit = torch.full((1, K) + s.shape[1:], -1e30, dtype=torch.float32)
        logit.scatter_(1, c[:, None], -s[:, None])
        ood = torch.zeros((1, 2) + s.shape[1:], dtype=torch.float32)
        ood[:, 0] = -1e30
        return logit, ood


dh_models.LadderDenseNetTH = lambda *a, **k: Net()
exp = os.path.join(WORK, 'authors')
os.makedirs(exp, exist_ok=True)
ckpt = os.path.join(exp, 'model.pt')
torch.save(Net().state_dict(), ckpt)  # an empty state dict


def run_script(script, args):
    argv = sys.argv
    sys.argv = [script] + args
    try:
        return quiet(runpy.run_path, os.path.join(DH, script), run_name='__main__')
    finally:
        sys.argv = argv


def fold_of(loader):
    folds = {os.path.basename(os.path.dirname(p)) for p in loader.dataset.img_paths}
    return folds.pop() if len(folds) == 1 else '+'.join(sorted(folds))


num = r'([-+0-9.eE]+|nan)'


def evaluate_osr(key):
    """evaluate_osr.py's numbers with the network returning the maps f[key]."""
    MAPS['key'] = key
    g, txt = run_script('evaluate_osr.py', ['--dataroot', SH['root'], '--model', ckpt])
    closed = re.search(r'>>> Performance on closed set\s+(?:.*\n)*?CLOSED SET: mIoU over 12 classes ' + num, txt)
    dh = {'closedMIoU': float(closed.group(1)) / 100}
    for name in ('t5', 't6'):
        sec = re.search(rf'>>> Performance on {name}\n((?:.*\n)*?)(?=>>>|\Z)', txt).group(1)
        loader, calib = (g['loader_t5'], g['loader_t6']) if name == 't5' else (g['loader_t6'], g['loader_t5'])
        # the threshold compute_osr_perf used: its calibrator, called as it calls it
        thr, _ = quiet(g['OODCalibration'](g['OpenModel'](g['model']), calib, 'cuda', ignore_id=2,
                                           logger=None).calculate_ood_scores, desired_tpr=0.95, scale=0.5)
        dh[name] = {
            'evaluates': fold_of(loader), 'calibratesOn': fold_of(calib),
            'threshold': float(thr),
            'openMIoU': float(re.search('OPEN SET: mIoU over 12 classes ' + num, sec).group(1)) / 100,
            'anomalyIoU': float(re.search('OPEN SET: anomaly class IoU ' + num, sec).group(1)) / 100,
            'frames': len(loader.dataset),
        }
    final = re.search(r'>>> Final performance\s+OPEN SET: mIoU over 12 classes ' + num, txt)
    dh['openMIoU'] = float(final.group(1)) / 100
    return dh


results['streethazards32']['densehybrid'] = evaluate_osr('scores32')
dh = evaluate_osr('scores')

# evaluate_ood.py --dataset street-hazards: per image (its main), and the same class pooled
dh_base.round = lambda x, n=None: x  # the logger's 2-decimal rounding: keep every digit
out_dir = os.path.join(exp, 'ood')
g2, txt2 = run_script('evaluate_ood.py', ['--dataroot', SH['root'], '--dataset', 'street-hazards',
                                          '--folder', out_dir, '--params', ckpt])


def logged(text, what):
    return float(re.search(what + r': ' + num + '%', text).group(1)) / 100


dh['perImage'] = {'ap': logged(txt2, 'Average precision'), 'fpr95': logged(txt2, 'FPR'),
                  'auroc': logged(txt2, 'AUROC')}
args2 = g2['args']
val_transforms = {'image': [g2['tf'].ToTensor()], 'target': [g2['tf'].ToTensor()], 'joint': None}
loaders = g2['get_eval_dataset'](args2.dataset)(args2.dataroot, val_transforms)


class Log:
    def __init__(self):
        self.lines = []

    def log(self, m):
        self.lines.append(m)


log = Log()
quiet(g2['THKLOODEvaluation'](Net(), loaders, 'cpu', ignore_id=2, logger=log).calculate_ood_scores)
pooled_txt = '\n'.join(log.lines)
dh['pooled'] = {'ap': logged(pooled_txt, 'Average precision'), 'fpr95': logged(pooled_txt, 'FPR'),
                'auroc': logged(pooled_txt, 'AUROC')}
results['streethazards']['densehybrid'] = dh

json.dump(results, open(OUT, 'w'), indent=1)
