// Step lists with durations, as promote and rebuild-standby report them.
export function renderSteps(steps: { step: string; ms: number; detail?: string }[]): string[] {
  return steps.map(
    (step) =>
      `  ${String(step.ms).padStart(6)}ms  ${step.step}${step.detail === undefined ? '' : `: ${step.detail}`}`,
  );
}
