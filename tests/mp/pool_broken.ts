/** A module that fails to load: a Pool over it cannot start a worker. */
throw new SyntaxError("pool_broken.ts refuses to load");
