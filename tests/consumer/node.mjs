// Under this machine's Node (20: no TypeScript, so the package's compiled dist/node.js), named imports
// of libipc bind the platform package's library through koffi, and a Mutex and a Chan work in one
// process: lock, send, an asynchronous receive that the event loop waits for.
import { Chan, libraryInfo, Mutex } from "libipc";

const info = libraryInfo();
if (!info.path.includes("/node_modules/@libipc/linux-")) {
  throw new Error(`libipc was loaded from ${info.path}, not from its platform package`);
}
const mutex = Mutex.create();
const jobs = Chan.create({ capacity: 64, codec: "json" });
try {
  mutex.lockSync();
  mutex.unlock();
  const received = jobs.recv({ timeout: 60_000 });
  jobs.sendSync({ job: 1 });
  const value = await received;
  if (value?.job !== 1) throw new Error(`received ${JSON.stringify(value)}, expected {"job":1}`);
} finally {
  jobs.close();
  mutex.close();
}
console.log(`consumer: ${info.runtime} imports libipc; library ${info.path}`);
