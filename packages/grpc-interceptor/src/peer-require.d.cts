/** `require(id)`, resolved from this package's location. Throws what `require` throws. */
export declare function peerRequire(id: string): unknown;
