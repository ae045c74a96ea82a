# Relationship inference over Meshery relationship definitions.
#
# weft flattens every definition in scope into rules, one per (from item,
# to item) pair of a selector set, and passes them as data.weft.rules; the
# shape is documented in engine/src/relate/rules.rs and policies/README.md.
# The components arrive as input, together with index tables weft builds
# from them (engine/src/relate/index.rs). Each rule compares refs: pairs
# of paths on its from and to items. Its key refs (the first ref that can
# be indexed, plus the other refs compared only for equality, such as the
# namespace) are read out in advance:
#
#   input.components[i]       = {id, displayName, component: {kind, version},
#                                group, model: {name}, namespace,
#                                configuration, external}
#   input.to_probes[rule]     = [[component, wildcard indices, [probe keys],
#                                 join value], ...]
#   input.from_index[source][key] = [[component, wildcard indices], ...]
#   input.from_facets[source] = [[component, wildcard indices, join value], ...]
#                                (for checks on the from side)
#
# A source is a from item's kind, model and key paths, shared by the rules
# that have them. Tables list the components of the item's kind (exactly:
# Meshery's Go engine matches kinds by substring, so there `Pod` also
# selects PodDisruptionBudget) and model. A probe finds the from facets
# whose key refs match the to facet's; this policy tests the remaining refs
# (a selector's subset test, `not_null`), applies deny selectors and
# decides which references are unresolved. The work grows with the number
# of components and references, not with the square of the components.
#
# `namespace` is the namespace the object lands in (metadata.namespace, or
# "default" for a namespaced kind that leaves it out; null when
# cluster-scoped). `external` marks stubs declared to exist outside the
# repo. weft.values(component, path, bound) reads a Meshery path:
# "configuration" addresses the configuration, other roots the component
# itself, numbers index arrays and "_" stands for every element; it
# returns [[indices of the "_"s, value], ...], with the first count(bound)
# wildcards fixed to `bound`. Missing values are left out.
package weft.relationships

import rego.v1

# The whole answer in one evaluation, so every table is built once.
result := {"matched": matched, "unresolved": unresolved, "bound": bound}

model_ok(end, _) if end.model == "*"

model_ok(end, c) if end.model == c.model.name

kind_ok(end, c) if {
	end.kind in {"*", c.component.kind}
	model_ok(end, c)
}

# A path that resolves to nothing reads as null, as in Meshery, so that
# `equal` holds when both ends leave a field out and `not_null` fails.
read(c, path, bound) := vs if {
	vs := weft.values(c, path, bound)
	count(vs) > 0
} else := [[[], null]]

as_string(v) := v if is_string(v)

as_string(v) := sprintf("%v", [v]) if not is_string(v)

# The match strategies of match_strategy_matrix.
holds("equal", f, t) if f == t

holds("equal_as_strings", f, t) if as_string(f) == as_string(t)

holds("not_null", f, t) if {
	f != null
	t != null
}

# from ⊆ to: every entry of the from object is in the to object. An empty
# selector selects nothing, as for a Service.
holds("to_contains_from", f, t) if {
	is_object(f)
	is_object(t)
	count(f) > 0
	every k, v in f {
		t[k] == v
	}
}

holds("to_contains_from", f, t) if {
	is_array(f)
	is_array(t)
	count(f) > 0
	every v in f {
		v in t
	}
}

holds("to_contains_from", f, t) if {
	not is_object(f)
	not is_array(f)
	f != null
	f == t
}

# Candidate matches of each rule, [from, to, from indices, to indices]:
# each to-side facet probes its rule's from-side index (see the header)
# with its keys.
candidates[r] contains [f, t, fb, tb] if {
	some r, rule in data.weft.rules
	some [t, tb, probes, _] in input.to_probes[r]
	some key in probes
	some [f, fb] in input.from_index[rule.source][key]
	f != t
}

# Candidates a ref outside the key rules out (a selector's subset test,
# `not_null`, refs with wildcards of their own), or a deny selector
# forbids. Only rules that have such refs or selectors are looked at.
rejected[r] contains p if {
	some r in data.weft.verifying
	rule := data.weft.rules[r]
	some p in candidates_of(r)
	[f, t, fb, tb] := p
	some ref in rule.verify
	not ref_holds(ref, input.components[f], fb, input.components[t], tb)
}

rejected[r] contains p if {
	some r in data.weft.denying
	rule := data.weft.rules[r]
	some p in candidates_of(r)
	denied(rule, input.components[p[0]], input.components[p[1]])
}

# matched[rule]: every match, [from, to, from indices, to indices].
matched[r] := cs - rejected_of(r) if some r, cs in candidates

# Binding relationships (Meshery's `match`): the from end relates to the
# to end through a third component. weft splits each into two rules,
# data.weft.bindings = [[binding, from end → binding component, binding
# component → to end], ...]; a relationship holds where both meet in the
# same component.
# The second half's matches are indexed by that component, so the join
# costs what the matches do.
binding_targets[r][via] contains [t, ti] if {
	some [_, _, r] in data.weft.bindings
	some [via, t, _, ti] in matched_of(r)
}

# [binding, from, to, via, from indices, to indices]
bound contains [b, f, t, via, fi, ti] if {
	some [b, first, second] in data.weft.bindings
	some [f, via, fi, _] in matched_of(first)
	some [t, ti] in binding_targets[second][via]
	f != t
}

rejected_of(r) := rejected[r]

rejected_of(r) := set() if not rejected[r]

matched_of(r) := matched[r]

matched_of(r) := set() if not matched[r]

candidates_of(r) := candidates[r]

candidates_of(r) := set() if not candidates[r]

ref_holds(ref, fc, fb, tc, tb) if {
	some [_, fv] in read(fc, ref.from, array.slice(fb, 0, ref.from_shared))
	some [_, tv] in read(tc, ref.to, array.slice(tb, 0, ref.to_shared))
	every s in ref.strategies {
		holds(s, fv, tv)
	}
}

denied(rule, fc, tc) if {
	some d in rule.deny
	kind_ok(d.from, fc)
	kind_ok(d.to, tc)
}

# The facets a check looks at: to facets are per rule, from facets per
# source (weft lists one check per group and source).
check_side_facets(check) := [[t, tb, value] | some [t, tb, _, value] in input.to_probes[check.rule]] if check.side == "to"

check_side_facets(check) := input.from_facets[check.source] if check.side == "from"

# References that must resolve (rules with a check): every facet of the
# checked side's join ref, when its conditions hold, as
# [group, component, wildcard indices, rule].
check_facets contains [check.group, c, b, check.rule] if {
	some check in data.weft.checks
	rule := data.weft.rules[check.rule]
	some [c, b, value] in check_side_facets(check)
	comp := input.components[c]
	not comp.external
	not ignored(value, rule.check.ignore)
	every cond in rule.check.when {
		condition(comp, cond, b)
	}
	not any_condition(comp, rule.check.unless, b)
}

# `ignore` lists values that resolve without a definition (objects every
# cluster has); an entry ending in `*` is a prefix.
ignored(value, ignore) if value in ignore

ignored(value, ignore) if {
	some pattern in ignore
	endswith(pattern, "*")
	startswith(value, trim_suffix(pattern, "*"))
}

condition(comp, cond, b) if {
	some [_, v] in read(comp, cond.path, array.slice(b, 0, cond.shared))
	v == cond.value
}

any_condition(comp, conds, b) if {
	some cond in conds
	condition(comp, cond, b)
}

resolved contains [check.group, f, fb] if {
	some check in data.weft.checks
	check.side == "from"
	some r in check.rules
	some [f, _, fb, _] in matched_of(r)
}

resolved contains [check.group, t, tb] if {
	some check in data.weft.checks
	check.side == "to"
	some r in check.rules
	some [_, t, _, tb] in matched_of(r)
}

# [rule, component, wildcard indices] of every reference no rule of its
# group resolved.
unresolved contains [r, c, b] if {
	some [group, c, b, r] in check_facets
	not [group, c, b] in resolved
}
