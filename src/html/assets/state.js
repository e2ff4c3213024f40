"use strict";
/* The state after step n (1-based): the deltas applied in order, with a
 * checkpoint every CP steps so any step is reached in at most CP deltas. */
const CP = 64;
function StateStore(steps) {
  this.steps = steps;
  this.cps = [new Map()];
}
StateStore.prototype.apply = function (m, i) {
  const s = this.steps[i];
  for (const k of s.del || []) m.delete(k);
  const set = s.set || {};
  for (const k of Object.keys(set)) m.set(k, set[k]);
};
StateStore.prototype.at = function (n) {
  const j = Math.floor(n / CP);
  while (this.cps.length <= j) {
    const c = this.cps.length;
    const m = new Map(this.cps[c - 1]);
    for (let i = (c - 1) * CP; i < c * CP && i < this.steps.length; i++) this.apply(m, i);
    this.cps.push(m);
  }
  const m = new Map(this.cps[j]);
  for (let i = j * CP; i < n && i < this.steps.length; i++) this.apply(m, i);
  return m;
};
/* Keys set or deleted by step n. */
StateStore.prototype.changed = function (n) {
  const s = this.steps[n - 1];
  const c = new Set(Object.keys((s && s.set) || {}));
  for (const k of (s && s.del) || []) c.add(k);
  return c;
};
