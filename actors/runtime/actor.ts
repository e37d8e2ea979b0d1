import { Mailbox } from "./mailbox.ts";
import type { Supervisor } from "./supervisor.ts";

/** What an actor does with each message. It owns the actor's state. */
export interface Behavior<M> {
  receive(message: M): void | Promise<void>;
  /**
   * Runs once before the first message this behavior takes (at start and
   * after each restart), e.g. to rebuild its state from others. A throw is a
   * failure like one in `receive`.
   */
  started?(): void | Promise<void>;
}

/** Where an actor's messages go: what a behavior sends to itself (pipe to self) or others. */
export interface ActorRef<M> {
  readonly name: string;
  /** Sends a message, waiting while the mailbox is full. */
  send(message: M): Promise<void>;
  /** Sends a message if the mailbox has room. */
  offer(message: M): boolean;
}

/**
 * Builds a fresh behavior: at start (`restart` 0) and after every restart.
 * `self` is the actor, so a behavior can send itself the answer of a request
 * as a message instead of awaiting it inside `receive`.
 */
export type BehaviorFactory<M> = (restart: number, self: ActorRef<M>) => Behavior<M>;

export interface ActorOptions {
  /** Mailbox capacity in messages. Default 64. */
  capacity?: number;
  /** Decides what happens when `receive` throws. Default: the actor stops. */
  supervisor?: Supervisor;
}

/**
 * A single-threaded message loop over a bounded mailbox. Only messages reach
 * the behavior's state; a failure is handed to the supervisor, which may
 * restart the actor with a fresh behavior.
 */
export class Actor<M> implements ActorRef<M> {
  readonly name: string;
  readonly #mailbox: Mailbox<M>;
  readonly #factory: BehaviorFactory<M>;
  readonly #supervisor?: Supervisor;
  #behavior: Behavior<M>;
  #restarts = 0;
  #failed: Error | null = null;
  readonly #loop: Promise<void>;

  constructor(name: string, factory: BehaviorFactory<M>, options: ActorOptions = {}) {
    this.name = name;
    this.#mailbox = new Mailbox<M>(options.capacity ?? 64);
    this.#factory = factory;
    this.#supervisor = options.supervisor;
    this.#behavior = factory(0, this);
    this.#loop = this.#run();
  }

  /** Messages waiting in the mailbox. */
  get depth(): number {
    return this.#mailbox.size;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** The error that stopped the actor for good, if any. */
  get failure(): Error | null {
    return this.#failed;
  }

  /** Sends a message, waiting while the mailbox is full. */
  send(message: M): Promise<void> {
    if (this.#failed) {
      return Promise.reject(
        new Deno.errors.BrokenPipe(`Cannot send: actor ${this.name} has failed`),
      );
    }
    return this.#mailbox.put(message);
  }

  /** Sends a message if the mailbox has room. */
  offer(message: M): boolean {
    return this.#failed === null && this.#mailbox.offer(message);
  }

  /** Stops taking messages once the mailbox is empty; resolves when the loop ends. */
  async stop(): Promise<void> {
    this.#mailbox.close();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let starting = true;
    while (true) {
      if (starting) {
        const restarts = this.#restarts;
        if (!(await this.#attempt(() => this.#behavior.started?.()))) return;
        // Restarted while starting: the fresh behavior starts in turn.
        starting = this.#restarts !== restarts;
        continue;
      }
      let message: M;
      try {
        message = await this.#mailbox.take();
      } catch {
        return; // closed and empty
      }
      const restarts = this.#restarts;
      // Called directly, not through `#attempt`: a closure and an async step per message were
      // most of a shard's cost for a message with little in it (16 shards, 10 ticks a second).
      try {
        const pending = this.#behavior.receive(message);
        if (pending !== undefined) await pending;
      } catch (error) {
        if (!this.#recover(error)) return;
      }
      if (this.#restarts !== restarts) starting = true;
    }
  }

  /** Runs one step of the behavior; on a throw, restarts it or stops for good (false). */
  async #attempt(step: () => void | Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      return this.#recover(error);
    }
  }

  /** After a throw: restarts the behavior (true), or stops the actor for good (false). */
  #recover(error: unknown): boolean {
    const cause = error instanceof Error ? error : new Error(String(error));
    const restart = this.#supervisor?.shouldRestart(this.name, cause) ?? false;
    if (!restart) {
      this.#failed = cause;
      for (const dropped of this.#mailbox.drain()) void dropped;
      this.#mailbox.close();
      return false;
    }
    this.#restarts++;
    this.#behavior = this.#factory(this.#restarts, this);
    return true;
  }
}

/**
 * Sends a request that carries a reply callback and waits for the answer.
 * Rejects after `timeoutMs` so a failed actor cannot hang the caller.
 */
export function ask<M, R>(
  actor: Actor<M>,
  request: (reply: (response: R) => void) => M,
  options: { timeoutMs?: number } = {},
): Promise<R> {
  const { timeoutMs = 5_000 } = options;
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Deno.errors.TimedOut(`Actor ${actor.name} did not answer within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    const reply = (response: R) => {
      clearTimeout(timer);
      resolve(response);
    };
    actor.send(request(reply)).catch((error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
