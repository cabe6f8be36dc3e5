// Kubernetes' label selectors as the CRI's list filters take them: every
// pair of the selector, exactly (MatchLabels only).
export function matchesLabels(labels: Record<string, string>, selector: Record<string, string> | null | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}
