//! Flattens relationship definitions into the rules the Rego evaluator
//! reads as `data.weft.rules`: one rule per (from item, to item) of each
//! selector set, with the refs paired index by index, the strategies per
//! ref, and a join ref picked so the policy can match through an index
//! instead of comparing every pair of components.

use super::definition::{Definition, Item};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// Index of the definition in the evaluated set.
    pub def: usize,
    /// Index of the selector set in the definition.
    pub set: usize,
    /// Indices of the items in `allow.from` / `allow.to`.
    pub from_item: usize,
    pub to_item: usize,
    pub from: End,
    pub to: End,
    pub refs: Vec<Ref>,
    /// The ref the policy indexes on.
    pub join: usize,
    /// The from-side index this rule probes (`Flattened::sources`).
    pub source: usize,
    /// The refs whose values form the index key, join ref first: the join
    /// ref plus every other ref compared for equality whose wildcards are
    /// all the join ref's. Namespace and kind refs thereby narrow the
    /// lookup instead of being checked pair by pair.
    pub keys: Vec<usize>,
    /// How each key compares: `equal`, `string` or (the join ref only)
    /// `contains`.
    pub key_kinds: Vec<&'static str>,
    /// Refs the index does not decide, checked for each candidate pair.
    pub verify: Vec<Ref>,
    pub deny: Vec<DenyPair>,
    pub check: Option<RuleCheck>,
    /// A half of a binding relationship: (binding, 0 for the from end →
    /// binding component, 1 for the binding component → the to end).
    pub binding: Option<(usize, u8)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct End {
    pub kind: String,
    pub model: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Ref {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub strategies: Vec<String>,
    /// How many leading `_` wildcards of this ref's paths are the same
    /// array elements as the join ref's on that side: `subjects._.name`
    /// and `subjects._.namespace` must be read from one subject.
    pub from_shared: usize,
    pub to_shared: usize,
    /// For the join ref: whether the index lookup leaves it undecided (a
    /// subset test, `not_null`).
    #[serde(skip)]
    pub verify: bool,
}

/// A from-side index: the components of one kind (and model) by the values
/// at the key paths. Rules with the same from item and keys share it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Source {
    pub kind: String,
    pub model: String,
    /// Key paths, join path first.
    pub paths: Vec<Vec<String>>,
    /// Wildcards each path shares with the join path.
    pub shared: Vec<usize>,
    pub kinds: Vec<&'static str>,
}

pub struct Flattened {
    pub rules: Vec<Rule>,
    pub sources: Vec<Source>,
    /// Binding relationships as the pair of half rules that make one:
    /// from end → binding component, binding component → to end.
    pub bindings: Vec<[usize; 2]>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DenyPair {
    pub from: End,
    pub to: End,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleCheck {
    pub group: String,
    pub side: String,
    pub when: Vec<Condition>,
    pub unless: Vec<Condition>,
    pub ignore: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Condition {
    pub path: Vec<String>,
    pub value: serde_json::Value,
    pub shared: usize,
}

pub fn flatten(definitions: &[Definition]) -> Flattened {
    let mut rules = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    let mut bindings = Vec::new();
    for (def_index, def) in definitions.iter().enumerate() {
        for (set_index, set) in def.selectors.iter().enumerate() {
            let deny: Vec<DenyPair> = set
                .deny
                .from
                .iter()
                .flat_map(|f| set.deny.to.iter().map(move |t| DenyPair { from: end(f), to: end(t) }))
                .collect();
            for (fi, from) in set.allow.from.iter().enumerate() {
                for (ti, to) in set.allow.to.iter().enumerate() {
                    if from.r#match.is_some() || to.r#match.is_some() {
                        let Some([(a_from, a_to), (b_from, b_to)]) = binding_halves(from, to) else { continue };
                        let binding = bindings.len();
                        let at = Position { def: def_index, set: set_index, from_item: fi, to_item: ti };
                        let first = push_rule(&mut rules, &mut sources, def, at, &a_from, &a_to, &[], Some((binding, 0)));
                        let second = push_rule(&mut rules, &mut sources, def, at, &b_from, &b_to, &[], Some((binding, 1)));
                        match (first, second) {
                            (Some(a), Some(b)) => bindings.push([a, b]),
                            (Some(_), None) => {
                                rules.pop();
                            }
                            _ => {}
                        }
                        continue;
                    }
                    let at = Position { def: def_index, set: set_index, from_item: fi, to_item: ti };
                    push_rule(&mut rules, &mut sources, def, at, from, to, &deny, None);
                }
            }
        }
    }
    Flattened { rules, sources, bindings }
}

/// Where a rule comes from in its definition.
#[derive(Clone, Copy)]
struct Position {
    def: usize,
    set: usize,
    from_item: usize,
    to_item: usize,
}

/// Adds the rule comparing `from` with `to`; `None` when they share no
/// comparable path.
#[allow(clippy::too_many_arguments)]
fn push_rule(
    rules: &mut Vec<Rule>,
    sources: &mut Vec<Source>,
    def: &Definition,
    at: Position,
    from: &Item,
    to: &Item,
    deny: &[DenyPair],
    binding: Option<(usize, u8)>,
) -> Option<usize> {
    let (refs, join, join_kind) = rule(from, to)?;
    let check = def.check.as_ref().filter(|_| binding.is_none()).map(|c| {
        let side_paths: Vec<&Vec<String>> = refs.iter().map(|r| if c.side == "from" { &r.from } else { &r.to }).collect();
        let anchor = side_paths[join];
        // Conditions name siblings of the referencing field, read from the
        // same array elements.
        let condition = |(field, value): (&String, &serde_json::Value)| {
            let mut path = anchor[..anchor.len().saturating_sub(1)].to_vec();
            path.push(field.clone());
            Condition { shared: shared_wildcards(anchor, &path), path, value: value.clone() }
        };
        RuleCheck {
            group: c.group.clone().unwrap_or_else(|| format!("{}:{}", c.code, anchor.join("."))),
            side: c.side.clone(),
            when: c.when.iter().map(condition).collect(),
            unless: c.unless.iter().map(condition).collect(),
            ignore: c.ignore.clone(),
        }
    });
    let (keys, key_kinds) = key_refs(&refs, join, join_kind);
    let verify =
        (0..refs.len()).filter(|&i| (i == join && refs[i].verify) || !keys.contains(&i)).map(|i| refs[i].clone()).collect();
    let source = Source {
        kind: from.kind.clone(),
        model: from.model.clone(),
        paths: keys.iter().map(|&i| refs[i].from.clone()).collect(),
        shared: keys.iter().map(|&i| refs[i].from_shared).collect(),
        kinds: key_kinds.clone(),
    };
    let source = match sources.iter().position(|s| *s == source) {
        Some(i) => i,
        None => {
            sources.push(source);
            sources.len() - 1
        }
    };
    rules.push(Rule {
        def: at.def,
        source,
        keys,
        key_kinds,
        verify,
        set: at.set,
        from_item: at.from_item,
        to_item: at.to_item,
        from: end(from),
        to: end(to),
        refs,
        join,
        deny: deny.to_vec(),
        check,
        binding,
    });
    Some(rules.len() - 1)
}

/// A binding relationship (Meshery's `match`: the from end relates to the
/// to end through a third component, as a Role to a ServiceAccount through
/// a RoleBinding) as two ordinary comparisons: from end → binding
/// component, and binding component → to end. Each end's `match` pairs a
/// `self` item with the binding kind; both ends must name the same kind.
fn binding_halves(from: &Item, to: &Item) -> Option<[(Item, Item); 2]> {
    let (from_self, from_binding) = match_items(from.r#match.as_ref()?)?;
    let (to_self, to_binding) = match_items(to.r#match.as_ref()?)?;
    if from_binding.0 != to_binding.0 {
        return None;
    }
    let item = |kind: &str, model: &str, refs: Vec<Vec<String>>| Item {
        kind: kind.to_owned(),
        model: model.to_owned(),
        r#match: None,
        strategies: None,
        patch_strategy: None,
        mutator_ref: refs,
        mutated_ref: Vec::new(),
    };
    Some([
        (item(&from.kind, &from.model, from_self), item(&from_binding.0, &from.model, from_binding.1)),
        (item(&to_binding.0, &to.model, to_binding.1), item(&to.kind, &to.model, to_self)),
    ])
}

/// The `self` item's paths and the binding item's (kind, paths) of one
/// end's `match`.
fn match_items(r#match: &serde_json::Value) -> Option<(Vec<Vec<String>>, (String, Vec<Vec<String>>))> {
    let mut own = None;
    let mut binding = None;
    for side in ["from", "to"] {
        for item in r#match.get(side).and_then(|v| v.as_array()).into_iter().flatten() {
            let kind = item.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
            let paths = ["mutatorRef", "mutator_ref", "mutatedRef", "mutated_ref"]
                .iter()
                .find_map(|k| item.get(*k).and_then(super::definition::paths).filter(|p| !p.is_empty()))
                .unwrap_or_default();
            if kind == "self" {
                own.get_or_insert(paths);
            } else if !kind.is_empty() {
                binding.get_or_insert((kind.to_owned(), paths));
            }
        }
    }
    Some((own?, binding?))
}

/// The key refs of a rule: the join ref, then each ref compared only for
/// equality (or only as strings) whose paths have no wildcard of their own.
fn key_refs(refs: &[Ref], join: usize, join_kind: &'static str) -> (Vec<usize>, Vec<&'static str>) {
    let mut keys = vec![join];
    let mut kinds = vec![join_kind];
    for (i, r) in refs.iter().enumerate() {
        if i == join || wildcards(&r.from) != r.from_shared || wildcards(&r.to) != r.to_shared {
            continue;
        }
        let kind = if r.strategies.iter().all(|s| s == "equal") {
            "equal"
        } else if r.strategies.iter().all(|s| s == "equal_as_strings") {
            "string"
        } else {
            continue;
        };
        keys.push(i);
        kinds.push(kind);
    }
    (keys, kinds)
}

fn wildcards(path: &[String]) -> usize {
    path.iter().filter(|s| *s == "_").count()
}

fn end(item: &Item) -> End {
    End { kind: item.kind.clone(), model: item.model.clone() }
}

fn rule(from: &Item, to: &Item) -> Option<(Vec<Ref>, usize, &'static str)> {
    let (from_refs, to_refs) = (from.refs(), to.refs());
    let n = from_refs.len().min(to_refs.len());
    if n == 0 {
        return None;
    }
    // The matrix may sit on either item; Meshery's files put it on the
    // first one that has it.
    let matrix = from.strategies.as_ref().or(to.strategies.as_ref());
    let strategies = |i: usize| -> Vec<String> {
        matrix
            .and_then(|m| m.get(i))
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| vec!["equal".to_owned()])
    };
    let join_kind_of = |s: &[String]| -> Option<&'static str> {
        if s.iter().any(|s| s == "to_contains_from") {
            Some("contains")
        } else if s.iter().any(|s| s == "equal_as_strings") {
            Some("string")
        } else if s.iter().any(|s| s == "equal") {
            Some("equal")
        } else {
            None
        }
    };
    // The first ref that can be indexed: authors list the discriminating
    // ref (a name, a selector) first and the narrowing ones (namespace,
    // kind) after it, as Meshery's own files do.
    let join = (0..n).find(|&i| join_kind_of(&strategies(i)).is_some())?;
    let join_kind = join_kind_of(&strategies(join))?;
    let refs = (0..n)
        .map(|i| Ref {
            from: from_refs[i].clone(),
            to: to_refs[i].clone(),
            strategies: strategies(i),
            from_shared: shared_wildcards(&from_refs[join], &from_refs[i]),
            to_shared: shared_wildcards(&to_refs[join], &to_refs[i]),
            verify: i != join
                || !strategies(i).iter().all(|s| match join_kind {
                    "equal" => matches!(s.as_str(), "equal" | "equal_as_strings" | "not_null"),
                    "string" => matches!(s.as_str(), "equal_as_strings" | "not_null"),
                    _ => false,
                }),
        })
        .collect();
    Some((refs, join, join_kind))
}

/// How many leading `_` of `path` stand for the same elements as in
/// `anchor`: the paths must agree on every segment up to and including it.
pub fn shared_wildcards(anchor: &[String], path: &[String]) -> usize {
    let mut shared = 0;
    for (a, b) in anchor.iter().zip(path) {
        if a != b {
            break;
        }
        if a == "_" {
            shared += 1;
        }
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::shared_wildcards;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn wildcards_are_shared_only_along_a_common_prefix() {
        assert_eq!(shared_wildcards(&p("subjects._.name"), &p("subjects._.namespace")), 1);
        assert_eq!(shared_wildcards(&p("a._.b._.c"), &p("a._.b._.d")), 2);
        assert_eq!(shared_wildcards(&p("a._.b._.c"), &p("a._.x._.c")), 1);
        assert_eq!(shared_wildcards(&p("a._.b"), &p("x._.b")), 0);
        assert_eq!(shared_wildcards(&p("namespace"), &p("spec._.name")), 0);
    }
}
