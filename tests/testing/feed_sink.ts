// A hub connection for tests: every frame the hub sends it is applied at once
// to a `FeedState`, as a client that reads without falling behind would.
import type { FrameSink } from "../../actors/hub/session.ts";
import { FeedState } from "./feed_client.ts";

export class FeedSink implements FrameSink {
  bufferedAmount = 0;
  closed = false;
  heardAt = 0;
  readonly state = new FeedState();
  send(frame: Uint8Array) {
    this.state.apply(frame);
  }
  close() {
    this.closed = true;
  }
}
