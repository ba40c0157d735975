/**
 * One pass over the distinct thresholds of a score set (descending), with cumulative counts of
 * positives (`tp`) and negatives (`fp`) at `score >= threshold`, gives every metric of the
 * package: step-wise AP, trapezoid AUROC, FPR at a TPR under three rules, the best-F1 point and
 * downsampled PR/ROC curves. Both the exact and the histogram mode feed it.
 * @internal
 */

/** How FPR at a target TPR picks its operating point. See the README's conventions table. */
export type FprRule = 'at-least' | 'above' | 'nearest';

/** What {@link CurveSummary.finish} returns; thresholds are still opaque keys. */
export interface CurveSummaryRaw {
  readonly ap: number;
  readonly auroc: number;
  readonly fpr: number;
  readonly tprReached: number;
  readonly thresholdKey: number;
  readonly bestF1: number;
  readonly bestF1Key: number;
  readonly curve: { readonly keys: number[]; readonly tp: number[]; readonly fp: number[] } | null;
}

export class CurveSummary {
  private readonly P: number;
  private readonly N: number;
  private readonly target: number;
  private readonly rule: FprRule;
  private prevTp = 0;
  private prevFp = 0;
  private apSum = 0;
  private aucSum = 0;
  private found = false;
  private fpr = NaN;
  private tprReached = NaN;
  private thrKey = NaN;
  // 'nearest': truncated at the first point with full recall
  private fullRecallSeen = false;
  private bestDist = Infinity;
  // 'above': sklearn roc_curve(drop_intermediate=True) keeps a point unless both second
  // differences (of fps and tps) at it are zero; we need the last two points to decide.
  private n = 0;
  private p1Tp = 0;
  private p1Fp = 0;
  private p1Key = 0;
  private p2Tp = 0;
  private p2Fp = 0;
  private f1 = -1;
  private f1Key = NaN;
  // curves: points where the number of predicted positives crosses the next mark
  private readonly step: number;
  private nextMark = 0;
  private readonly curveKeys: number[] | null;
  private readonly curveTp: number[] = [];
  private readonly curveFp: number[] = [];
  private lastKey = NaN;

  constructor(P: number, N: number, target: number, rule: FprRule, curvePoints: number) {
    this.P = P;
    this.N = N;
    this.target = target;
    this.rule = rule;
    this.curveKeys = curvePoints > 0 ? [] : null;
    this.step = curvePoints > 3 ? (P + N) / (curvePoints - 3) : Infinity;
  }

  /** Next distinct threshold (strictly below the previous one) and cumulative counts. */
  push(key: number, tp: number, fp: number): void {
    const P = this.P;
    // AP = Σ (R_i − R_{i−1}) · P_i  (sklearn average_precision_score)
    if (tp !== this.prevTp) this.apSum += ((tp - this.prevTp) * tp) / (tp + fp);
    // AUROC: trapezoid in (fp, tp) counts, normalised once at the end
    this.aucSum += (fp - this.prevFp) * (tp + this.prevTp);
    const tpr = tp / P;
    if (this.rule === 'at-least') {
      if (!this.found && tpr >= this.target) this.take(key, tp, fp);
    } else if (this.rule === 'nearest') {
      if (!this.fullRecallSeen) {
        const d = Math.abs(tpr - this.target);
        if (d <= this.bestDist) {
          this.bestDist = d;
          this.take(key, tp, fp);
        }
        if (tp === P) this.fullRecallSeen = true;
      }
    } else {
      if (this.n >= 2) {
        const keep = fp - 2 * this.p1Fp + this.p2Fp !== 0 || tp - 2 * this.p1Tp + this.p2Tp !== 0;
        if (keep) this.considerAbove(this.p1Key, this.p1Tp, this.p1Fp);
      } else if (this.n === 1) {
        this.considerAbove(this.p1Key, this.p1Tp, this.p1Fp);
      }
      this.p2Tp = this.p1Tp;
      this.p2Fp = this.p1Fp;
      this.p1Tp = tp;
      this.p1Fp = fp;
      this.p1Key = key;
    }
    // F1 = 2TP / (2TP + FP + FN) = 2tp / (tp + fp + P); ties keep the higher threshold (the
    // first maximum, as SMIYC's np.nanargmax over its curve)
    const f1 = (2 * tp) / (tp + fp + P);
    if (f1 > this.f1) {
      this.f1 = f1;
      this.f1Key = key;
    }
    if (this.curveKeys !== null) {
      const predicted = tp + fp;
      if (this.n === 0 || predicted >= this.nextMark) {
        this.curveKeys.push(key);
        this.curveTp.push(tp);
        this.curveFp.push(fp);
        while (this.nextMark <= predicted) this.nextMark += this.step;
      }
    }
    this.lastKey = key;
    this.prevTp = tp;
    this.prevFp = fp;
    this.n++;
  }

  private take(key: number, tp: number, fp: number): void {
    this.found = true;
    this.thrKey = key;
    this.fpr = fp / this.N;
    this.tprReached = tp / this.P;
  }

  private considerAbove(key: number, tp: number, fp: number): void {
    if (!this.found && tp / this.P > this.target) this.take(key, tp, fp);
  }

  finish(): CurveSummaryRaw {
    if (this.rule === 'above' && this.n >= 1) this.considerAbove(this.p1Key, this.p1Tp, this.p1Fp);
    let curve: CurveSummaryRaw['curve'] = null;
    if (this.curveKeys !== null) {
      const keys = this.curveKeys;
      if (keys.length === 0 || keys[keys.length - 1] !== this.lastKey) {
        keys.push(this.lastKey);
        this.curveTp.push(this.prevTp);
        this.curveFp.push(this.prevFp);
      }
      curve = { keys, tp: this.curveTp, fp: this.curveFp };
    }
    return {
      ap: this.apSum / this.P,
      auroc: this.aucSum / (2 * this.P * this.N),
      fpr: this.fpr,
      tprReached: this.tprReached,
      thresholdKey: this.thrKey,
      bestF1: this.f1,
      bestF1Key: this.f1Key,
      curve,
    };
  }
}
