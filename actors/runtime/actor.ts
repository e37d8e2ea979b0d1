import { Mailbox } from "./mailbox.ts";
import type { Supervisor } from "./supervisor.ts";

/** What an actor does with each message. It owns the actor's state. */
export interface Behavior<M> {
  receive(message: M): void | Promise<void>;
}

/** Builds a fresh behavior: at start and after every restart. */
export type BehaviorFactory<M> = (restart: number) => Behavior<M>;

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
export class Actor<M> {
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
    this.#behavior = factory(0);
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
    while (true) {
      let message: M;
      try {
        message = await this.#mailbox.take();
      } catch {
        return; // closed and empty
      }
      try {
        await this.#behavior.receive(message);
      } catch (error) {
        const cause = error instanceof Error ? error : new Error(String(error));
        const restart = this.#supervisor?.shouldRestart(this.name, cause) ?? false;
        if (!restart) {
          this.#failed = cause;
          for (const dropped of this.#mailbox.drain()) void dropped;
          this.#mailbox.close();
          return;
        }
        this.#restarts++;
        this.#behavior = this.#factory(this.#restarts);
      }
    }
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
