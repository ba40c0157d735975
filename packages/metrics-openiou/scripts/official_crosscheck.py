"""Dev-only driver of `official-crosscheck.mjs` (not part of the package, not run in CI).

Runs the benchmarks' official evaluation code, unchanged, from checkouts outside this repository
on the frames that `official-crosscheck.mjs` wrote as .npy, and writes the numbers as JSON:

    python3 official_crosscheck.py <official-root> <frames-dir> <out.json>

<official-root> holds road-anomaly-benchmark (SegmentMeIfYouCan), bdl-benchmark (Fishyscapes),
anomaly-seg (StreetHazards) and DenseHybrid (the authors). Nothing of that code is copied here:
this file imports it and calls its functions. Modules those functions never touch (plotting,
datasets, tensorflow-datasets, torchvision, cv2, IPython, pandas) are replaced by empty stand-ins
when they are not installed, `.cuda()` / `.to('cuda')` are no-ops so the authors' code runs on
CPU, and the authors' import-time colour tables may build ragged arrays as numpy < 1.24 allowed.
"""

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import types

import numpy as np

ROOT, DATA, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
MANIFEST = json.load(open(os.path.join(DATA, 'manifest.json')))


# ---- stand-ins for modules the called functions never use -------------------------------------

class _Dummy:
    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Dummy()

    def __getattr__(self, name):
        return _Dummy()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

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


STUBBED = missing(['tqdm', 'pandas', 'IPython', 'cv2', 'torchvision', 'seaborn', 'PIL'])
sys.meta_path.insert(0, _StubFinder(set(STUBBED) | {'tensorflow_datasets', 'tensorflow'}))


def quiet(fn, *a, **k):
    """Runs fn with its prints captured; returns (result, printed text)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        r = fn(*a, **k)
    return r, buf.getvalue()


def load(name):
    return np.load(os.path.join(DATA, name))


results = {'stubbed': STUBBED, 'numpy': np.__version__}

# ---- SegmentMeIfYouCan: road_anomaly_benchmark/metrics ----------------------------------------

os.environ['DIR_OUTPUTS'] = tempfile.mkdtemp(prefix='smiyc-out-')
sys.path.insert(0, os.path.join(ROOT, 'road-anomaly-benchmark'))
from road_anomaly_benchmark.metrics import MetricRegistry  # noqa: E402


def smiyc(track, frames, seg_name, order=None):
    pix = MetricRegistry.get('PixBinaryClass')
    fr = [(load(f['labels']), load(f['scores'])) for f in frames]
    if order is not None:
        fr = [fr[i] for i in order]
    per = [quiet(pix.process_frame, label_pixel_gt=l, anomaly_p=s, visualize=False)[0] for l, s in fr]
    ag, _ = quiet(pix.aggregate, per, method_name='lib', dataset_name=track)
    out = {
        'ap': float(ag.area_PRC), 'auroc': float(ag.area_ROC), 'fpr95': float(ag.tpr95_fpr),
        'tpr95Threshold': float(ag.tpr95_threshold), 'bestF1': float(ag.best_f1),
        'bestF1Threshold': float(ag.best_f1_threshold),
    }
    if seg_name is None:
        return out
    # the component metrics read their threshold from the saved curve, as the benchmark does
    quiet(pix.save, ag, method_name='lib', dataset_name=track)
    seg = MetricRegistry.get(seg_name)
    seg.cfg.thresh_p = None
    seg.init('lib', track)
    segs = [quiet(seg.process_frame, label_pixel_gt=l, anomaly_p=s, visualize=False)[0] for l, s in fr]
    sg, _ = quiet(seg.aggregate, segs, method_name='lib', dataset_name=track)
    out['components'] = {
        'threshold': float(seg.cfg.thresh_p),
        'thresholdFloat16': float(np.float16(seg.cfg.thresh_p)),
        'sIoU': float(sg.sIoU_gt), 'sIoUPred': float(sg.sIoU_pred), 'ppv': float(sg.prec_pred),
        'meanF1': float(sg.f1_mean), 'f1_25': float(sg.f1_25), 'f1_50': float(sg.f1_50),
        'f1_75': float(sg.f1_75), 'tp_25': int(sg.tp_25), 'fn_25': int(sg.fn_25),
        'fp_25': int(sg.fp_25), 'gtComponents': int(sum(len(r.sIoU_gt) for r in segs)),
        'predComponents': int(sum(len(r.sIoU_pred) for r in segs)),
    }
    return out


results['smiyc'] = {}
for track, seg_name in (('anomaly', 'SegEval-AnomalyTrack'), ('obstacle', 'SegEval-ObstacleTrack')):
    frames = MANIFEST['smiyc'][track]
    results['smiyc'][track] = smiyc(track, frames, seg_name)
# frames whose highest bin edge ties: SMIYC's first curve point depends on the frame order
tied = MANIFEST['smiyc']['tied']
n = len(tied)
results['smiyc']['tied'] = {
    'order': smiyc('tied', tied, None),
    'reversed': smiyc('tied', tied, None, order=list(range(n - 1, -1, -1))),
}

# scikit-learn on the pooled float16 pixels (the exact values beside the binned ones)
from sklearn.metrics import average_precision_score, roc_auc_score  # noqa: E402

ls = [load(f['labels']) for f in MANIFEST['smiyc']['anomaly']]
ss = [load(f['scores']) for f in MANIFEST['smiyc']['anomaly']]
y = np.concatenate([l[l < 255].reshape(-1) for l in ls])
s = np.concatenate([x[l < 255].reshape(-1) for x, l in zip(ss, ls)]).astype(np.float64)
results['smiyc']['anomalySklearn'] = {
    'ap': float(average_precision_score(y, s)), 'auroc': float(roc_auc_score(y, s)),
}

# ---- Fishyscapes: bdlb/fishyscapes/benchmark.py calculate_metrics_perpixAP ----------------------

for name, attrs in {
    'bdlb': {}, 'bdlb.core': {}, 'bdlb.core.levels': {'Level': _Dummy},
    'bdlb.core.constants': {'DATA_DIR': '/nonexistent'},
    'bdlb.core.benchmark': {'Benchmark': _Dummy, 'DataSplits': _Dummy, 'BenchmarkInfo': _Dummy},
    'bdlb.core.transforms': {}, 'bdlb.fishyscapes': {},
    'bdlb.fishyscapes.fishyscapes_tfds': {'_CITATION': '', '_DESCRIPTION': '', 'Fishyscapes': _Dummy},
}.items():
    m = types.ModuleType(name)
    m.__path__ = []
    m.__dict__.update(attrs)
    sys.modules[name] = m
spec = importlib.util.spec_from_file_location(
    'bdlb.fishyscapes.benchmark',
    os.path.join(ROOT, 'bdl-benchmark', 'bdlb', 'fishyscapes', 'benchmark.py'))
bdlb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bdlb)
fs = MANIFEST['fishyscapes']
r = bdlb.calculate_metrics_perpixAP([load(f['labels']) for f in fs], [load(f['scores']) for f in fs])
results['fishyscapes'] = {'ap': float(r['AP']), 'auroc': float(r['auroc']), 'fpr95': float(r['FPR@95%TPR'])}

# ---- StreetHazards: anomaly-seg anom_utils.py (eval_ood.py's per-image loop) ---------------------

sys.path.insert(0, os.path.join(ROOT, 'anomaly-seg'))
import anom_utils  # noqa: E402

K = MANIFEST['streethazards']['numClasses']
sh_frames = MANIFEST['streethazards']['t5'] + MANIFEST['streethazards']['t6']
aurocs, auprs, fprs = [], [], []
for f in sh_frames:
    conf = -load(f['scores']).astype(np.float32)  # eval_ood.py scores confidence; -conf is anomaly
    res = anom_utils.eval_ood_measure(conf, load(f['labels']), out_label=K)
    if res is not None:
        aurocs.append(res[0]); auprs.append(res[1]); fprs.append(res[2])
results['streethazards'] = {'anomalySeg': {
    'auroc': float(np.mean(aurocs)), 'ap': float(np.mean(auprs)), 'fpr95': float(np.mean(fprs)),
    'frames': len(aurocs)}}

# ---- the DenseHybrid authors: evaluate_osr.py and evaluations/base.py ------------------------------

import torch  # noqa: E402

torch.Tensor.cuda = lambda self, *a, **k: self
torch.nn.Module.cuda = lambda self, *a, **k: self
_to = torch.Tensor.to
torch.Tensor.to = lambda self, *a, **k: self if (a and a[0] == 'cuda') else _to(self, *a, **k)
sys.path.insert(0, os.path.join(ROOT, 'DenseHybrid'))
# the authors' label-colour tables build ragged arrays at import time, which numpy < 1.24 turned
# into object arrays (numpy >= 1.24 raises); allow that while importing, as their numpy did
_array = np.array


def _ragged_ok(*a, **k):
    try:
        return _array(*a, **k)
    except ValueError:
        return _array(*a, **{**k, 'dtype': object})


np.array = _ragged_ok
import evaluate_osr as osr  # noqa: E402
import evaluations.evaluations as ev  # noqa: E402
import evaluations.base as ev_base  # noqa: E402
np.array = _array

osr.logger = None
FRAMES = {}


class Net(torch.nn.Module):
    """Stands in for the network: logits whose argmax is the closed prediction c and whose
    logsumexp is exactly −score (one logit −s, the others −1e30), a dataset-posterior head with
    P(d_out|x) = 1, so the authors' score −logsumexp(s) + ln P(d_out|x) is the frame's score."""

    def forward(self, img, shape=None):
        f = FRAMES[int(img.reshape(-1)[0])]
        s = torch.from_numpy(f['score'])[None]
        c = torch.from_numpy(f['closed'].astype(np.int64))[None]
        logit = torch.full((1, K) + s.shape[1:], -1e30, dtype=torch.float32)
        logit.scatter_(1, c[:, None], -s[:, None])
        ood = torch.zeros((1, 2) + s.shape[1:], dtype=torch.float32)
        ood[:, 0] = -1e30
        return logit, ood


def osr_loader(frames, ood_labels):
    out = []
    for f in frames:
        i = len(FRAMES)
        lab = load(f['labels']).astype(np.int64)
        FRAMES[i] = {'score': load(f['scores']).astype(np.float32), 'closed': load(f['closed'])}
        if ood_labels:  # StreetHazardsTestOOD: 0 inlier, 1 anomaly, 2 ignore
            y = np.where(lab == 255, 2, np.where(lab == K, 1, 0))
        else:  # StreetHazardsOSR: 0..11 known, 12 anomaly, 13 ignore
            y = np.where(lab == 255, K + 1, lab)
        out.append((torch.full((1, 3, 1, 1), float(i)), torch.from_numpy(y)[None, None]))

    class L(list):
        pass

    loader = L(out)
    loader.dataset = out
    return loader


net = Net()
t5 = osr_loader(MANIFEST['streethazards']['t5'], False)
t6 = osr_loader(MANIFEST['streethazards']['t6'], False)
both = osr_loader(MANIFEST['streethazards']['t5'] + MANIFEST['streethazards']['t6'], False)
_, closed_txt = quiet(osr.evaluate_closed_dataset, both, net)
closed = float(re.search(r'CLOSED SET: mIoU over 12 classes (\S+)', closed_txt).group(1)) / 100
dh = {'closedMIoU': closed}
for name, ev_loader, cal_loader in (('t5', t5, t6), ('t6', t6, t5)):
    model = osr.OpenModel(net)
    thr, _ = quiet(osr.OODCalibration(model, cal_loader, 'cpu', 2, None).calculate_ood_scores,
                   desired_tpr=0.95, scale=0.5)
    miou, txt = quiet(osr.compute_osr_perf, ev_loader, cal_loader, net, desired_tpr=0.95)
    anomaly = float(re.search(r'anomaly class IoU (\S+)', txt).group(1)) / 100
    dh[name] = {'threshold': float(thr), 'openMIoU': float(miou), 'anomalyIoU': anomaly,
                'frames': len(ev_loader.dataset)}
n5, n6 = dh['t5']['frames'], dh['t6']['frames']
dh['openMIoU'] = (n5 * dh['t5']['openMIoU'] + n6 * dh['t6']['openMIoU']) / (n5 + n6)


class Log:
    def __init__(self):
        self.lines = []

    def log(self, m):
        self.lines.append(m)


def logged(lines, what):
    return float(re.search(what + r': (\S+)%', '\n'.join(lines)).group(1)) / 100


ev_base.round = lambda x, n=None: x  # the logger rounds to 2 decimals; keep every digit
ood = osr_loader(MANIFEST['streethazards']['t5'] + MANIFEST['streethazards']['t6'], True)
for key, call in (('perImage', 'calculate_ood_scores_per_image'), ('pooled', 'calculate_ood_scores')):
    log = Log()
    e = ev.THKLOODEvaluation(net, ood, 'cpu', 2, log)
    quiet(getattr(e, call))
    dh[key] = {'ap': logged(log.lines, 'Average precision'), 'fpr95': logged(log.lines, 'FPR'),
               'auroc': logged(log.lines, 'AUROC')}
results['streethazards']['densehybrid'] = dh

json.dump(results, open(OUT, 'w'), indent=1)
