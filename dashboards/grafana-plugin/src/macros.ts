// The macros are the built-in UI's (dashboards/ui/js/macros.js): one
// implementation for both. Grafana's template variables are interpolated
// after the macros, each value as a quoted SQL literal.

import type { ScopedVars } from '@grafana/data';
// Plain JavaScript shared with the built-in UI, typed by its JSDoc.
import { expandMacros, quoteList, chooseInterval, parseDuration, intervalSql } from '../../ui/js/macros.js';

export { expandMacros, quoteList, chooseInterval, parseDuration, intervalSql };

/** The part of Grafana's TemplateSrv the data source uses. */
export interface TemplateSrvLike {
  replace(target?: string, scopedVars?: ScopedVars, format?: string | Function): string;
}

/** A template variable's value(s) as SQL literals: 'a' or 'a','b' (NULL for none). */
export function sqlFormatter(value: unknown): string {
  if (Array.isArray(value)) {
    return quoteList(value.map(String));
  }
  return quoteList([String(value ?? '')]);
}

/**
 * Expand the macros for the time range and interval, then Grafana's template
 * variables (`$service` becomes `'a','b'`).
 */
export function interpolate(
  sql: string,
  range: { from: number; to: number; intervalMs: number },
  templateSrv: TemplateSrvLike,
  scopedVars: ScopedVars = {}
): string {
  const expanded: string = expandMacros(sql, { ...range, variables: {}, keepUnknown: true });
  return templateSrv.replace(expanded, scopedVars, sqlFormatter);
}
