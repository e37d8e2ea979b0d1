// The sort worker's script (see sort_worker.ts): sorts each job's ids by
// its keys and sends the buffers back, the ids now in order and the
// descending order beside them (made from the same keys).
import { reverseOrder } from "./column_order.ts";
import { RadixScratch, sortByKey } from "./radix_order.ts";
import type { SortJobMessage } from "./sort_worker.ts";

const scratch = new RadixScratch();
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<SortJobMessage>) => void) | null;
  postMessage(message: SortJobMessage, transfer: Transferable[]): void;
};

scope.onmessage = (event) => {
  const job = event.data;
  const values = new Float64Array(job.values, 0, job.valueCount);
  const items = new Uint32Array(job.items, 0, job.itemCount);
  // sortByKey reads every item before it writes `out`: sorting in place is safe.
  sortByKey(values, items, { out: items, descending: false, scratch });
  reverseOrder(items, { keys: values, into: new Uint32Array(job.desc, 0, job.itemCount) });
  scope.postMessage(job, [job.values, job.items, job.desc]);
};
