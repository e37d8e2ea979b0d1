// The sort worker's script (see sort_worker.ts): sorts each job's ids by its
// keys into the job's ascending order, makes the descending one from it with
// the same keys, and answers with the job's token. The arrays are shared
// memory the hub does not touch until the answer comes.
import { reverseOrder } from "./column_order.ts";
import { RadixScratch, sortByKey } from "./radix_order.ts";
import type { SortJobMessage } from "./sort_worker.ts";

const scratch = new RadixScratch();
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<SortJobMessage>) => void) | null;
  postMessage(token: number): void;
};

scope.onmessage = (event) => {
  const job = event.data;
  const values = new Float64Array(job.values, 0, job.valueCount);
  const items = new Uint32Array(job.items, 0, job.itemCount);
  const asc = new Uint32Array(job.asc, 0, job.itemCount);
  sortByKey(values, items, { out: asc, descending: false, scratch });
  reverseOrder(asc, { keys: values, into: new Uint32Array(job.desc, 0, job.itemCount) });
  scope.postMessage(job.token);
};
