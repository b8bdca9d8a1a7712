/** Splits a stream of byte chunks into lines, for reading a child's stdout one line at a time. */

export class LineReader {
  #decoder = new TextDecoder();
  #buffer = "";
  #lines: string[] = [];
  #waiters: ((line: string) => void)[] = [];
  #ended = false;
  all = "";

  push(chunk: Uint8Array): void {
    const text = this.#decoder.decode(chunk, { stream: true });
    this.all += text;
    this.#buffer += text;
    let newline: number;
    while ((newline = this.#buffer.indexOf("\n")) >= 0) {
      this.#deliver(this.#buffer.slice(0, newline));
      this.#buffer = this.#buffer.slice(newline + 1);
    }
  }

  end(): void {
    this.#ended = true;
    if (this.#buffer.length > 0) this.#deliver(this.#buffer);
    this.#buffer = "";
    for (const waiter of this.#waiters.splice(0)) waiter("");
  }

  next(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve("");
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #deliver(line: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(line);
    else this.#lines.push(line);
  }
}
