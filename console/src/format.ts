// Small formatting helpers shared by the pages.

export function when(ts: number | null | undefined): string {
  if (!ts) return "—";
  const d = new Date(ts * 1000);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(start: number | null | undefined, end: number | null | undefined, now?: number): string {
  if (!start) return "—";
  const s = (end ?? now ?? Date.now() / 1000) - start;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} m`;
}

export function phaseClass(phase: string): string {
  return "phase phase-" + phase.toLowerCase();
}

/** A ref that sets one style property through the CSSOM (the Content-Security-Policy forbids style attributes). */
export function styled(prop: string, value: string): (el: HTMLElement | null) => void {
  return (el) => {
    if (el) el.style.setProperty(prop, value);
  };
}
