/**
 * The machine a Node benchmark runs on (CPU model, cores, memory, Node version) and a short slug of it for
 * result file names (bench/results/<date>-<machine>.json).
 */
import { availableParallelism, cpus, platform, release, totalmem } from 'node:os';
import type { MachineInfo } from './results.js';

export function machineInfo(): MachineInfo {
  return {
    cpu: cpus()[0]?.model.trim() || 'unknown CPU',
    cores: availableParallelism(),
    node: process.version,
    platform: `${platform()} ${release()}`,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
  };
}

/** "amd-epyc-2c": the CPU model in lowercase words joined by dashes, and the core count. */
export function machineSlug(m: Pick<MachineInfo, 'cpu' | 'cores'>): string {
  const words = m.cpu
    .toLowerCase()
    .replace(/\(r\)|\(tm\)|\bcpu\b|\bprocessor\b|\d+-core|@.*$/g, ' ')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(/\s+/)
    .filter((w) => w)
    .slice(0, 4);
  return `${words.join('-') || 'unknown'}-${m.cores}c`;
}
