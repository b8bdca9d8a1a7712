// Under Node, a named import of libipc must fail with libipc's own message, not a link error.
import { Mutex, SharedMemory } from "libipc";

console.log("imported", typeof SharedMemory, typeof Mutex);
