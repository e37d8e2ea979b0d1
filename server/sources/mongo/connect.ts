import { MongoClient } from "mongodb";
import { STANDALONE_HINT } from "./errors.ts";

/**
 * The driver's client for mongo mode. A server that answers and is a
 * standalone is refused at once (change streams need a replica set); one
 * that does not answer yet is left to the source, which serves the last
 * state and retries. `hosts` names the servers without any credentials.
 */
export async function connectMongo(uri: string): Promise<{ client: MongoClient; hosts: string }> {
  const client = new MongoClient(uri, {
    appName: "pulseboard",
    monitorCommands: true,
    // The driver's 30 s would hold an ingest request (and an outage's first
    // report) that long; the URI may still say otherwise.
    ...(/[?&]serverSelectionTimeoutMS=/i.test(uri) ? {} : { serverSelectionTimeoutMS: 5_000 }),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hello = await Promise.race([
    client.db("admin").command({ hello: 1 }).catch(() => null),
    new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 5_000)),
  ]);
  clearTimeout(timer);
  if (hello && typeof hello.setName !== "string" && hello.msg !== "isdbgrid") {
    await client.close().catch(() => {});
    throw new TypeError(STANDALONE_HINT);
  }
  const hosts = uri.replace(/^mongodb(\+srv)?:\/\/([^@/]*@)?/, "").split(/[/?]/)[0];
  return { client, hosts };
}
