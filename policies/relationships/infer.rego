# Relationship inference over Meshery relationship definitions.
#
# weft flattens every definition in scope into rules, one per (from item,
# to item) pair of a selector set, and passes them as data.weft.rules; the
# shape is documented in engine/src/relate/rules.rs and policies/README.md.
# The components arrive as input:
#
#   input.components[i] = {id, displayName, component: {kind, version},
#                          model: {name}, namespace, configuration, external}
#   input.by_kind[kind] = [i, ...]      input.all = [0, 1, ...]
#
# `namespace` is the namespace the object lands in (metadata.namespace, or
# "default" for a namespaced kind that leaves it out; null when
# cluster-scoped). `external` marks stubs declared to exist outside the repo.
#
# Every rule is matched through an index on one of its refs (the join ref,
# chosen by weft), so the work grows with the number of components rather
# than with its square. weft.values(component, path, bound) reads a Meshery
# path: "configuration" addresses the configuration, other roots the
# component itself, numbers index arrays and "_" stands for every element;
# it returns [[indices of the "_"s, value], ...], with the first
# count(bound) wildcards fixed to `bound`. Missing values are left out.
package weft.relationships

import rego.v1

# The whole answer in one evaluation, so the index is built once.
result := {"pairs": pairs, "unresolved": unresolved}

# Components that can stand at one end of a rule. Kinds match exactly:
# Meshery's Go engine matches by substring, so there `Pod` also selects
# PodDisruptionBudget; weft does not.
ends(end) := input.all if end.kind == "*"

ends(end) := object.get(input.by_kind, end.kind, []) if end.kind != "*"

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

# Index keys of a to-side value, and the key a from-side value probes with.
# For a subset join the to side is indexed by each of its entries and the
# from side probes with its smallest one: any entry it must contain will do.
keys("equal", v) := {v}

keys("string", v) := {as_string(v)}

keys("contains", v) := {["entry", k, x] | some k, x in v} if is_object(v)

keys("contains", v) := {["item", x] | some x in v} if is_array(v)

keys("contains", v) := {v} if {
	not is_object(v)
	not is_array(v)
}

probe("equal", v) := v

probe("string", v) := as_string(v)

probe("contains", v) := ["entry", k, v[k]] if {
	is_object(v)
	k := min(object.keys(v))
}

probe("contains", v) := ["item", min(v)] if {
	is_array(v)
	count(v) > 0
}

probe("contains", v) := v if {
	not is_object(v)
	not is_array(v)
}

# to_index[rule][key] = the to-side facets ([component, wildcard indices])
# whose join value has that key.
to_index[r][key] contains [t, tb] if {
	some r, rule in data.weft.rules
	some t in ends(rule.to)
	c := input.components[t]
	model_ok(rule.to, c)
	some [tb, value] in weft.values(c, rule.refs[rule.join].to, [])
	some key in keys(rule.join_kind, value)
}

# [rule, from, to, from indices, to indices] for every match.
pairs contains [r, f, t, fb, tb] if {
	some r, rule in data.weft.rules
	some f in ends(rule.from)
	fc := input.components[f]
	model_ok(rule.from, fc)
	some [fb, value] in weft.values(fc, rule.refs[rule.join].from, [])
	some [t, tb] in to_index[r][probe(rule.join_kind, value)]
	f != t
	tc := input.components[t]
	every ref in rule.refs {
		ref_holds(ref, fc, fb, tc, tb)
	}
	not denied(rule, fc, tc)
}

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

# References that must resolve (rules with a check): every facet of the
# checked side's join ref, when its conditions hold, as
# [group, component, wildcard indices, rule].
check_facets contains [rule.check.group, c, b, r] if {
	some r, rule in data.weft.rules
	side := rule.check.side
	end := rule[side]
	some c in ends(end)
	comp := input.components[c]
	model_ok(end, comp)
	not comp.external
	some [b, value] in weft.values(comp, rule.refs[rule.join][side], [])
	not value in rule.check.ignore
	every cond in rule.check.when {
		condition(comp, cond, b)
	}
	not any_condition(comp, rule.check.unless, b)
}

condition(comp, cond, b) if {
	some [_, v] in read(comp, cond.path, array.slice(b, 0, cond.shared))
	v == cond.value
}

any_condition(comp, conds, b) if {
	some cond in conds
	condition(comp, cond, b)
}

resolved contains [rule.check.group, f, fb] if {
	some [r, f, _, fb, _] in pairs
	rule := data.weft.rules[r]
	rule.check.side == "from"
}

resolved contains [rule.check.group, t, tb] if {
	some [r, _, t, _, tb] in pairs
	rule := data.weft.rules[r]
	rule.check.side == "to"
}

# [rule, component, wildcard indices] of every reference no rule of its
# group resolved.
unresolved contains [r, c, b] if {
	some [group, c, b, r] in check_facets
	not [group, c, b] in resolved
}
