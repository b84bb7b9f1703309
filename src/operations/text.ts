/** A count and its noun, singular or plural as the count asks: `count(1, 'capability', 'capabilities')`. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** The verb that agrees with a count: `be(1, 'is', 'are')`. */
export function be(n: number, singular: string, plural: string): string {
  return n === 1 ? singular : plural;
}
