/** The i-th seeded record of the initial-sync scenarios: the same for the product and its peers. */
export const seedRecord = (i: number) => ({ id: `seed-${String(i).padStart(6, '0')}`, title: `Seeded todo number ${i}`, done: i % 3 === 0 });
