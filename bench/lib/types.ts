/** What every scenario hands to the report. @module */

export interface Target {
  /** e.g. "(a) Tessera MB/s ≥ 1.0× libtorrent". */
  what: string;
  /** Measured value, as shown. */
  value: string;
  met: boolean;
}

export interface Table {
  columns: string[];
  rows: (string | number)[][];
}

export interface Bar {
  label: string;
  value: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** Parameters and client configuration, for the report. */
  config: Record<string, unknown>;
  table: Table;
  targets: Target[];
  notes: string[];
  /** Bar chart: throughput (MB/s) per client, or seconds, with its unit. */
  chart?: { unit: string; bars: Bar[] };
  /** Line chart: download rate over time, per client (seconds, MB/s). */
  rates?: { label: string; points: [number, number][] }[];
  /** Everything measured, per run. */
  raw: unknown;
}
