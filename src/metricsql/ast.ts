// The series-selector AST shared by the parser, printer, scoper and matcher.
//
// A selector is a disjunction of filter groups: `m{a="1" or b="2"}` is
// groups [[__name__="m", a="1"], [__name__="m", b="2"]]. The metric name is
// folded into every group as a `__name__` equality filter, so consumers see a
// single shape; the printer folds it back out when all groups share it.

export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface LabelFilter {
  readonly label: string;
  readonly op: MatchOp;
  readonly value: string;
}

export interface Selector {
  /** At least one group; an empty group (`{}`) matches every series. */
  readonly groups: readonly (readonly LabelFilter[])[];
}

/** One label of a series. A series' labels are sorted by name and unique. */
export interface Label {
  readonly name: string;
  readonly value: string;
}

export type Labels = readonly Label[];

export const METRIC_NAME_LABEL = "__name__";
