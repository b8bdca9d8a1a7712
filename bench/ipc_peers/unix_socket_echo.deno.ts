/**
 * The Deno end of unix_socket.ts's Bun<->Deno round trip (SOCKET_CHILD=deno): connects to the unix
 * socket path given as its argument and writes back everything it reads, until the parent closes it.
 *
 *   deno run --allow-all bench/ipc_peers/unix_socket_echo.deno.ts <path>
 */
const conn = await Deno.connect({ transport: "unix", path: Deno.args[0] });
const buf = new Uint8Array(1 << 16);
while (true) {
  const n = await conn.read(buf);
  if (n === null) break;
  let off = 0;
  while (off < n) off += await conn.write(buf.subarray(off, n));
}
conn.close();
