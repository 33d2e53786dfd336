// Placeholder until the facade lands.
export function connect(): never { throw new Error('not built yet'); }
