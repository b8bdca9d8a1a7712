/** Types of scripts/wine_loader.mjs, for bench/run.ts. */
export declare const wineCandidates: string[];
export declare function findWine(): string | undefined;
