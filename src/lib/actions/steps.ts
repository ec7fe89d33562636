// Timed step lists: promote and rebuild-standby report every step they took, how long it took
// and, where useful, a detail about its outcome; the commands print them with renderSteps.

export interface StepRecord {
  step: string;
  ms: number;
  detail?: string;
}

/**
 * Runs one step: announces it, awaits `work` and records how long it took, with a detail
 * derived from its value. A step that throws is not recorded: the error says what failed.
 */
export type TimedStep = <T>(
  step: string,
  work: () => Promise<T>,
  detail?: (value: T) => string,
) => Promise<T>;

export interface StepRecorder {
  /** Every recorded step, in order; callers may push untimed ones (ms 0) themselves. */
  steps: StepRecord[];
  timed: TimedStep;
}

/** A fresh step list and the `timed` runner that appends to it; onStep hears each step start. */
export function recordSteps(onStep?: (step: string) => void): StepRecorder {
  const steps: StepRecord[] = [];
  const timed: TimedStep = async (step, work, detail) => {
    onStep?.(step);
    const begin = performance.now();
    const value = await work();
    steps.push({
      step,
      ms: Math.round(performance.now() - begin),
      ...(detail ? { detail: detail(value) } : {}),
    });
    return value;
  };
  return { steps, timed };
}

/** One line per step: its duration right-aligned, then what it was. */
export function renderSteps(steps: StepRecord[]): string[] {
  return steps.map(
    (step) =>
      `  ${String(step.ms).padStart(6)}ms  ${step.step}${step.detail === undefined ? '' : `: ${step.detail}`}`,
  );
}
