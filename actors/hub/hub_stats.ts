/** See `HubStats.tickParts`. */
export interface TickParts {
  apply: number;
  judge: number;
  order: number;
  frames: number;
  sends: number;
  topics: number;
}

/**
 * Counters the hub keeps up to date for /healthz and /metrics. Only the hub
 * writes them (a restarted hub goes on with the same object); others read.
 */
export class HubStats {
  /** Sequence number of the everything-topic. */
  seq = 0;
  /** Epoch of the everything-topic. */
  epoch = 0;
  sessions = 0;
  ticks = 0;
  framesSent = 0;
  bytesSent = 0;
  snapshotsSent = 0;
  skippedFrames = 0;
  slowCloses = 0;
  /** Clients closed with 4001 for not answering pings. */
  silentCloses = 0;
  flushTimeouts = 0;
  /**
   * True once a tick sent after the source first caught up has taken in the
   * shards' flushes: the view then holds the restored state and the replayed log.
   */
  viewCaughtUp = false;
  sensors = 0;
  /** Sensors per attention code (protocol/attention.ts), as of the last tick. */
  attention: number[] = [0, 0, 0, 0, 0, 0];
  lastTickMs = 0;
  /** Resume requests answered with the missed frames, and with a fresh snapshot. */
  recovered = 0;
  resynced = 0;
  /** Subscriptions refused as malformed. */
  badSubscriptions = 0;
  /** Subscribes and Unsubscribes refused by a limit (per session caps, topic shares, --max-topics). */
  subscriptionsRefused = 0;
  /** The busiest topics, at most 10: key (cut to 80 characters), sessions and frames in the ring. */
  topics: { key: string; sessions: number; ring: number }[] = [];
  /** Live topics, those of them without sessions (kept for resuming), and the bytes of all their keys. */
  topicCount = 0;
  idleTopics = 0;
  topicKeyBytes = 0;
  /** Topics dropped to make room: idle ones, and active ones of the client holding the most. */
  topicsEvicted = 0;
  activeTopicsEvicted = 0;
  /** Readings dropped from event-time windows as late, over all sensors. */
  lateDropped = 0;
  /** Bytes held by all recovery rings. */
  ringBytes = 0;
  /**
   * The hub's own work in the last tick, ms: merging the flushes and sending
   * every stream's frames (`lastTickMs` also counts waiting for the shards' flushes).
   */
  lastMergeMs = 0;
  /**
   * The hub thread's CPU time over the same span, ms (when the hub has a CPU
   * clock, else null): the wall time less any wait for a core.
   */
  lastMergeCpuMs: number | null = null;
  /**
   * The hub thread's time runnable but without a core over the same span,
   * ms (when the hub has a run-queue clock, else null): of the wall time
   * beyond the CPU time, what other threads or processes on its core took.
   */
  lastMergeWaitMs: number | null = null;
  /** Time the last tick spent on the viewport views (ordering and their frames), ms. */
  viewsMs = 0;
  /**
   * The last tick's parts, ms: the mirror's merge (`apply`), attention
   * (`judge`), the views' ordering (`order`: changes into the keys, sorts,
   * sparkline points), their places' frames (`frames`) and the windows'
   * sends (`sends`), the topics' frames and sends (`topics`). To tell which
   * part a slow tick's time went to (a collection lands in whichever runs).
   */
  tickParts: TickParts = { apply: 0, judge: 0, order: 0, frames: 0, sends: 0, topics: 0 };
  /** Viewport views and windows now; window frames sent; ViewSubscribes refused. */
  views = 0;
  windows = 0;
  viewFramesSent = 0;
  viewsRefused = 0;
  /** Places of views (their frame streams) now, and idle ones let go early: one client left too many. */
  places = 0;
  idlePlacesDropped = 0;
  /** Most unsent bytes seen queued for any one client, and the largest frame sent. */
  peakBufferedBytes = 0;
  largestFrameBytes = 0;
}
