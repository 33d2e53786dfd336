// Placeholder until the runtime lands.
export {};
