# The naive formulation of relationship inference, for the benchmark only:
# every rule compares every pair of components of its kinds, reading every
# ref with weft.values. It is what Meshery's engines do (pairs ×
# selectors), and what weft's index tables avoid.
package weft.relationships

import rego.v1

naive_pairs contains [r, f, t] if {
	some r, rule in data.weft.rules
	some f, fc in input.components
	kind_ok(rule.from, fc)
	some t, tc in input.components
	kind_ok(rule.to, tc)
	f != t
	every ref in rule.refs {
		some [_, fv] in read(fc, ref.from, [])
		some [_, tv] in read(tc, ref.to, [])
		every s in ref.strategies {
			holds(s, fv, tv)
		}
	}
	not denied(rule, fc, tc)
}
