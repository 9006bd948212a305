import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogsError } from './errors.js';

/**
 * The local CloudWatch Logs' state: log groups, their streams and events. Each group is one file
 * of JSON lines under `<dataDir>/logs/` (a stream's creation or a batch of events per line),
 * appended to as requests arrive and read back on start, so that a restart keeps what was written.
 */

export interface LogEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
}

interface Stream {
  createdAt: number;
  events: LogEvent[];
}

interface Group {
  createdAt: number;
  retentionInDays?: number | undefined;
  kmsKeyId?: string | undefined;
  streams: Map<string, Stream>;
}

type Line =
  | { group: { createdAt: number; retentionInDays?: number; kmsKeyId?: string } }
  | { stream: string; createdAt: number }
  | { stream: string; events: LogEvent[] };

/** File names of groups: names hold `/`, so they are percent-encoded. */
const fileOf = (name: string) => `${encodeURIComponent(name)}.jsonl`;

export class LogStore {
  private readonly groups = new Map<string, Group>();
  private readonly dir: string;

  constructor(
    dataDir: string,
    readonly accountId: string,
    readonly region: string,
  ) {
    this.dir = join(dataDir, 'logs');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const file of readdirSync(this.dir).filter((f) => f.endsWith('.jsonl'))) this.load(file);
  }

  private load(file: string): void {
    const name = decodeURIComponent(file.slice(0, -'.jsonl'.length));
    let group: Group | undefined;
    for (const text of readFileSync(join(this.dir, file), 'utf8').split('\n')) {
      if (text === '') continue;
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        continue; // a line cut short by a crash: what came before it stands
      }
      if ('group' in line) {
        group = { ...line.group, streams: new Map() };
        this.groups.set(name, group);
      } else if (group && 'createdAt' in line) {
        group.streams.set(line.stream, { createdAt: line.createdAt, events: [] });
      } else if (group && 'events' in line) {
        group.streams.get(line.stream)?.events.push(...line.events);
      }
    }
  }

  private append(name: string, line: Line): void {
    appendFileSync(join(this.dir, fileOf(name)), `${JSON.stringify(line)}\n`, { mode: 0o600 });
  }

  groupArn(name: string): string {
    return `arn:aws:logs:${this.region}:${this.accountId}:log-group:${name}`;
  }

  streamArn(group: string, stream: string): string {
    return `${this.groupArn(group)}:log-stream:${stream}`;
  }

  groupNames(): string[] {
    return [...this.groups.keys()].sort();
  }

  group(name: string): Group {
    const group = this.groups.get(name);
    if (!group) throw new LogsError('ResourceNotFoundException', 'The specified log group does not exist.');
    return group;
  }

  hasGroup(name: string): boolean {
    return this.groups.has(name);
  }

  createGroup(name: string, at: number, options: { retentionInDays?: number; kmsKeyId?: string } = {}): void {
    if (this.groups.has(name))
      throw new LogsError('ResourceAlreadyExistsException', 'The specified log group already exists');
    const group = { createdAt: at, ...options };
    this.groups.set(name, { ...group, streams: new Map() });
    this.append(name, { group });
  }

  stream(group: string, name: string): Stream {
    const stream = this.group(group).streams.get(name);
    if (!stream) throw new LogsError('ResourceNotFoundException', 'The specified log stream does not exist.');
    return stream;
  }

  createStream(group: string, name: string, at: number): void {
    const g = this.group(group);
    if (g.streams.has(name))
      throw new LogsError('ResourceAlreadyExistsException', 'The specified log stream already exists');
    g.streams.set(name, { createdAt: at, events: [] });
    this.append(group, { stream: name, createdAt: at });
  }

  putEvents(group: string, stream: string, events: LogEvent[]): void {
    this.stream(group, stream).events.push(...events);
    this.append(group, { stream, events });
  }
}
