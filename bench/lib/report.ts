// Numbers for people: summaries of samples, a markdown table, and an SVG
// chart of latency distributions (box plots on a log scale), written by hand
// so the benchmark needs nothing beyond Node.

export interface Summary {
  n: number;
  mean: number;
  min: number;
  p25: number;
  median: number;
  p75: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return {
    n: s.length,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    min: s[0],
    p25: at(0.25),
    median: at(0.5),
    p75: at(0.75),
    p90: at(0.9),
    p99: at(0.99),
    max: s[s.length - 1],
  };
}

export interface Series {
  label: string;
  samples: number[];
}

export interface Panel {
  title: string;
  series: Series[];
}

const escape = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Box plots (whiskers min to p99, box p25 to p75, a bar at the median) on a log scale in ms. */
export function svgChart(panels: Panel[], caption: string): string {
  const width = 960;
  const left = 300;
  const right = 90;
  const rowHeight = 26;
  const headerHeight = 30;
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.samples)).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const x = (ms: number) => left + ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (width - left - right);
  const ticks: number[] = [];
  for (let d = lo; d <= hi; d *= 10) for (const m of [1, 2, 5]) if (d * m <= hi) ticks.push(d * m);
  let y = 40;
  const body: string[] = [];
  for (const panel of panels) {
    body.push(`<text x="10" y="${y + 18}" font-weight="bold">${escape(panel.title)}</text>`);
    y += headerHeight;
    for (const series of panel.series) {
      const s = summarize(series.samples);
      const mid = y + rowHeight / 2;
      body.push(
        `<text x="${left - 10}" y="${mid + 4}" text-anchor="end">${escape(series.label)}</text>`,
        `<line x1="${x(s.min)}" y1="${mid}" x2="${x(s.p99)}" y2="${mid}" stroke="#555"/>`,
        `<rect x="${x(s.p25)}" y="${mid - 8}" width="${Math.max(1, x(s.p75) - x(s.p25))}" height="16" fill="#9cc3e6" stroke="#2b5d8a"/>`,
        `<line x1="${x(s.median)}" y1="${mid - 9}" x2="${x(s.median)}" y2="${mid + 9}" stroke="#b00" stroke-width="2"/>`,
        `<text x="${width - right + 8}" y="${mid + 4}">${s.median < 10 ? s.median.toFixed(1) : s.median.toFixed(0)} ms</text>`,
      );
      y += rowHeight;
    }
    y += 8;
  }
  const grid = ticks.map(
    (t) =>
      `<line x1="${x(t)}" y1="32" x2="${x(t)}" y2="${y}" stroke="#ddd"/><text x="${x(t)}" y="${y + 16}" text-anchor="middle" font-size="11">${t >= 1000 ? `${t / 1000}s` : `${t}`}</text>`,
  );
  const height = y + 50;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escape(caption)}</text>`,
    ...grid,
    ...body,
    `<text x="${left}" y="${height - 12}" font-size="11" fill="#555">ms, log scale; box: 25th to 75th percentile, red: median, line: min to 99th percentile</text>`,
    "</svg>",
    "",
  ].join("\n");
}

/** A markdown table: a header row and rows of cells. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export const ms = (v: number) => (v < 10 ? v.toFixed(1) : v.toFixed(0));
