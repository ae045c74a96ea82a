//! Stage 2: the component graph. Nodes are the components of every design
//! in the repo; edges are the relationships the designs declare (inferred
//! ones join in the relationship stage), typed by Meshery's kind, type and
//! subType. Building the graph is also where identity is checked: ids
//! unique within a design, Kubernetes objects unique across the repo, and
//! relationships pointing at components that exist.

use crate::design::{Component, Design, Format};
use crate::diagnostic::{Diagnostic, codes};
use crate::load::source::Sources;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// A component by position: `designs[design].components[component]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ComponentRef {
    pub design: usize,
    pub component: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub kind: String,
    pub r#type: String,
    pub sub_type: String,
    pub source: EdgeSource,
}

/// Where an edge comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeSource {
    /// A relationship the design declares:
    /// `designs[design].relationships[relationship]`.
    Declared { design: usize, relationship: usize },
    /// A relationship weft inferred: `inference.relationships[index]`.
    Inferred { index: usize },
}

/// A relationship end that names nothing: a declared relationship's end
/// whose component is not in the design, or a reference weft resolves
/// (a ConfigMap a Deployment mounts) that no object in the repo answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dangling {
    /// The end that is present.
    pub node: NodeIndex,
    /// Whether the missing end is the relationship's `to` (the present end
    /// is its `from`) or its `from`.
    pub missing_is_to: bool,
    pub missing: Missing,
    pub kind: String,
    pub r#type: String,
    pub sub_type: String,
    /// The diagnostic code that reports it.
    pub code: String,
    pub inferred: bool,
}

/// What a dangling end names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Missing {
    /// A component id of the design.
    Component(String),
    /// An object of a kind, by name when the reference is a plain name
    /// (a selector names none).
    Object { kind: String, name: Option<String> },
}

/// Identity of a Kubernetes object: what the API server would consider the
/// same object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn of(component: &Component) -> Self {
        ObjectKey {
            group: component.group().to_owned(),
            kind: component.kind.clone(),
            namespace: component.namespace.clone().unwrap_or_default(),
            name: component.name.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Graph {
    graph: DiGraph<ComponentRef, Edge>,
    by_id: HashMap<(usize, String), NodeIndex>,
    by_key: HashMap<ObjectKey, NodeIndex>,
    /// Index of each design's first node.
    offsets: Vec<usize>,
    dangling: Vec<Dangling>,
}

impl Graph {
    /// Builds the repo graph and reports identity problems.
    pub fn build(designs: &[Design], sources: &Sources) -> (Graph, Vec<Diagnostic>) {
        let mut graph = Graph::default();
        let mut diagnostics = Vec::new();
        for (d, design) in designs.iter().enumerate() {
            graph.offsets.push(graph.graph.node_count());
            for (c, component) in design.components.iter().enumerate() {
                let node = graph.graph.add_node(ComponentRef { design: d, component: c });
                let checks_ids = design.format != Format::Manifests;
                if let Some(&first) = graph.by_id.get(&(d, component.id.clone())) {
                    if checks_ids {
                        let first = graph.component(designs, first);
                        diagnostics.push(
                            Diagnostic::new(
                                &codes::DUPLICATE_COMPONENT_ID,
                                format!("component id {} is also used by {}", component.id, first.display()),
                            )
                            .at(&design.file, Some(sources.locate_origin(&component.origin.child("/id"))))
                            .component(component.display()),
                        );
                    }
                } else {
                    graph.by_id.insert((d, component.id.clone()), node);
                }
                if component.is_annotation || component.ignored || component.has_generated_name() {
                    continue;
                }
                let key = ObjectKey::of(component);
                if let Some(&first) = graph.by_key.get(&key) {
                    let first_ref = graph.graph[first];
                    let first_component = graph.component(designs, first);
                    let first_span = sources.locate_origin(&first_component.name_origin);
                    diagnostics.push(
                        Diagnostic::new(
                            &codes::DUPLICATE_OBJECT,
                            format!(
                                "{} is defined twice; first at {}:{}:{}",
                                component.display(),
                                designs[first_ref.design].file,
                                first_span.line,
                                first_span.column
                            ),
                        )
                        .at(&design.file, Some(sources.locate_origin(&component.name_origin)))
                        .component(component.display()),
                    );
                } else {
                    graph.by_key.insert(key, node);
                }
            }
        }
        for (d, design) in designs.iter().enumerate() {
            for (r, relationship) in design.relationships.iter().enumerate() {
                graph.bind(design, d, r, relationship, sources, &mut diagnostics);
            }
        }
        (graph, diagnostics)
    }

    /// Adds a relationship's edges: each `from` to each `to` of the same
    /// selector, once per pair. A bound Meshery relationship has one of
    /// each; the cap keeps a hostile one from making millions.
    fn bind(
        &mut self,
        design: &Design,
        d: usize,
        r: usize,
        relationship: &crate::design::Relationship,
        sources: &Sources,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        const MAX_PAIRS: usize = 10_000;
        let mut missing = std::collections::HashSet::new();
        let mut pairs = std::collections::BTreeSet::new();
        let mut dangling = std::collections::BTreeSet::new();
        for selector in &relationship.selectors {
            let mut resolve = |ends: &[crate::design::Endpoint]| {
                let mut nodes = Vec::new();
                let mut absent = Vec::new();
                for end in ends {
                    let found = self.by_id.get(&(d, end.id.clone()));
                    if found.is_none() && !absent.contains(&end.id) {
                        absent.push(end.id.clone());
                    }
                    match found {
                        Some(node) if !nodes.contains(node) => nodes.push(*node),
                        Some(_) => {}
                        None if missing.insert(end.id.clone()) => diagnostics.push(
                            Diagnostic::new(
                                &codes::DANGLING_RELATIONSHIP,
                                format!(
                                    "{}/{}/{} relationship refers to component {}, which is not in the design",
                                    relationship.kind, relationship.r#type, relationship.sub_type, end.id
                                ),
                            )
                            .at(&design.file, Some(sources.locate_origin(&end.origin))),
                        ),
                        None => {}
                    }
                }
                (nodes, absent)
            };
            let (from, absent_from) = resolve(&selector.from);
            let (to, absent_to) = resolve(&selector.to);
            // Each present end keeps a line to what it names and lacks,
            // within the same cap as the pairs.
            let present_to_absent =
                from.iter().flat_map(|&a| absent_to.iter().map(move |id| (a, true, id.clone())));
            let absent_to_present =
                to.iter().flat_map(|&b| absent_from.iter().map(move |id| (b, false, id.clone())));
            for end in present_to_absent.chain(absent_to_present) {
                if dangling.len() < MAX_PAIRS {
                    dangling.insert(end);
                }
            }
            for &a in &from {
                for &b in &to {
                    if pairs.len() == MAX_PAIRS {
                        diagnostics.push(
                            Diagnostic::new(
                                &codes::INVALID_DESIGN,
                                format!("relationship binds more than {MAX_PAIRS} component pairs; the rest are ignored"),
                            )
                            .at(&design.file, Some(sources.locate_origin(&relationship.origin))),
                        );
                        self.add_dangling(dangling, relationship);
                        return self.add_edges(pairs, d, r, relationship);
                    }
                    pairs.insert((a, b));
                }
            }
        }
        self.add_dangling(dangling, relationship);
        self.add_edges(pairs, d, r, relationship);
    }

    fn add_dangling(
        &mut self,
        ends: std::collections::BTreeSet<(NodeIndex, bool, String)>,
        relationship: &crate::design::Relationship,
    ) {
        for (node, missing_is_to, id) in ends {
            self.dangling.push(Dangling {
                node,
                missing_is_to,
                missing: Missing::Component(id),
                kind: relationship.kind.clone(),
                r#type: relationship.r#type.clone(),
                sub_type: relationship.sub_type.clone(),
                code: codes::DANGLING_RELATIONSHIP.name.to_owned(),
                inferred: false,
            });
        }
    }

    fn add_edges(
        &mut self,
        pairs: std::collections::BTreeSet<(NodeIndex, NodeIndex)>,
        d: usize,
        r: usize,
        relationship: &crate::design::Relationship,
    ) {
        for (a, b) in pairs {
            let edge = Edge {
                kind: relationship.kind.clone(),
                r#type: relationship.r#type.clone(),
                sub_type: relationship.sub_type.clone(),
                source: EdgeSource::Declared { design: d, relationship: r },
            };
            self.graph.add_edge(a, b, edge);
        }
    }

    /// Adds the inferred relationships as edges; a pair the designs
    /// already relate with the same kind, type and subType keeps only the
    /// declared edge.
    pub fn add_inferred(&mut self, inference: &crate::relate::Inference) {
        use crate::relate::End;
        for (index, inferred) in inference.relationships.iter().enumerate() {
            let (End::Component { design: fd, component: fc }, End::Component { design: td, component: tc }) =
                (inferred.from, inferred.to)
            else {
                continue;
            };
            let def = &inference.definitions[inference.rules[inferred.rule].def];
            let node = |design, component| NodeIndex::new(self.position(ComponentRef { design, component }));
            let (a, b) = (node(fd, fc), node(td, tc));
            let declared = self.graph.edges_connecting(a, b).any(|e| {
                let w = e.weight();
                w.kind.eq_ignore_ascii_case(&def.kind)
                    && w.r#type.eq_ignore_ascii_case(&def.r#type)
                    && w.sub_type.eq_ignore_ascii_case(&def.sub_type)
            });
            if !declared {
                self.graph.add_edge(
                    a,
                    b,
                    Edge {
                        kind: def.kind.clone(),
                        r#type: def.r#type.clone(),
                        sub_type: def.sub_type.clone(),
                        source: EdgeSource::Inferred { index },
                    },
                );
            }
        }
    }

    /// Records the references inference could not resolve as dangling
    /// ends, so pictures of the graph can show them.
    pub fn add_unresolved(&mut self, inference: &crate::relate::Inference, designs: &[Design]) {
        use crate::relate::End;
        let mut seen: std::collections::HashSet<Dangling> = self.dangling.iter().cloned().collect();
        for unresolved in &inference.unresolved {
            let End::Component { design, component } = unresolved.at else { continue };
            let Some(target) = crate::relate::missing_target(inference, designs, unresolved) else { continue };
            let def = &inference.definitions[inference.rules[unresolved.rule].def];
            let node = NodeIndex::new(self.position(ComponentRef { design, component }));
            let dangling = Dangling {
                node,
                missing_is_to: target.side != "to",
                missing: Missing::Object { kind: target.what, name: target.name },
                kind: def.kind.clone(),
                r#type: def.r#type.clone(),
                sub_type: def.sub_type.clone(),
                code: target.code,
                inferred: true,
            };
            // A reference several rules resolve (a roleRef to a Role or a
            // ClusterRole) is one missing object.
            if seen.insert(dangling.clone()) {
                self.dangling.push(dangling);
            }
        }
    }

    pub fn dangling(&self) -> &[Dangling] {
        &self.dangling
    }

    /// Nodes are added design by design, component by component.
    fn position(&self, at: ComponentRef) -> usize {
        self.offsets[at.design] + at.component
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }
    pub fn nodes(&self) -> impl Iterator<Item = (NodeIndex, ComponentRef)> + '_ {
        self.graph.node_indices().map(|n| (n, self.graph[n]))
    }
    pub fn edges(&self) -> impl Iterator<Item = (NodeIndex, NodeIndex, &Edge)> + '_ {
        use petgraph::visit::EdgeRef;
        self.graph.edge_references().map(|e| (e.source(), e.target(), e.weight()))
    }
    pub fn get(&self, node: NodeIndex) -> ComponentRef {
        self.graph[node]
    }
    pub fn component<'d>(&self, designs: &'d [Design], node: NodeIndex) -> &'d Component {
        let r = self.graph[node];
        &designs[r.design].components[r.component]
    }
    /// A component by its id within design `design`.
    pub fn by_id(&self, design: usize, id: &str) -> Option<NodeIndex> {
        self.by_id.get(&(design, id.to_owned())).copied()
    }
    /// A Kubernetes object by identity, anywhere in the repo.
    pub fn by_key(&self, key: &ObjectKey) -> Option<NodeIndex> {
        self.by_key.get(key).copied()
    }

    /// An order in which components can be applied: for hierarchical
    /// relationships the parent (`to`) precedes the child (`from`); for all
    /// other relationships `from` precedes `to`. Ties keep load order, so
    /// the order is deterministic. On a cycle, returns its members.
    pub fn topological_order(&self) -> Result<Vec<NodeIndex>, Vec<NodeIndex>> {
        let mut dependencies: DiGraph<(), ()> = DiGraph::with_capacity(self.graph.node_count(), self.graph.edge_count());
        for _ in self.graph.node_indices() {
            dependencies.add_node(());
        }
        for (from, to, edge) in self.edges() {
            let (first, then) = if edge.kind.eq_ignore_ascii_case("hierarchical") { (to, from) } else { (from, to) };
            dependencies.add_edge(first, then, ());
        }
        // Kahn's algorithm with a min-heap gives the smallest index first,
        // which is load order.
        let mut indegree: Vec<usize> = dependencies
            .node_indices()
            .map(|n| dependencies.neighbors_directed(n, petgraph::Direction::Incoming).count())
            .collect();
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = indegree
            .iter()
            .enumerate()
            .filter(|(_, d)| **d == 0)
            .map(|(i, _)| std::cmp::Reverse(i))
            .collect();
        let mut order = Vec::with_capacity(indegree.len());
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(NodeIndex::new(i));
            for next in dependencies.neighbors_directed(NodeIndex::new(i), petgraph::Direction::Outgoing) {
                indegree[next.index()] -= 1;
                if indegree[next.index()] == 0 {
                    ready.push(std::cmp::Reverse(next.index()));
                }
            }
        }
        if order.len() == indegree.len() {
            return Ok(order);
        }
        let cycle = petgraph::algo::kosaraju_scc(&dependencies)
            .into_iter()
            .find(|scc| scc.len() > 1 || dependencies.contains_edge(scc[0], scc[0]))
            .unwrap_or_default();
        let mut cycle = cycle;
        cycle.sort();
        Err(cycle)
    }

    /// A warning for a cycle, if there is one.
    pub fn cycle_diagnostic(&self, designs: &[Design], sources: &Sources) -> Option<Diagnostic> {
        let cycle = self.topological_order().err()?;
        let first = *cycle.first()?;
        let names: Vec<String> = cycle.iter().map(|&n| self.component(designs, n).display()).collect();
        let component = self.component(designs, first);
        let design = &designs[self.graph[first].design];
        Some(
            Diagnostic::new(&codes::CYCLE, format!("relationships form a cycle: {}", names.join(" → ")))
                .at(&design.file, Some(sources.locate_origin(&component.origin)))
                .component(component.display()),
        )
    }

    pub fn view(&self, designs: &[Design]) -> GraphView {
        let nodes = self
            .graph
            .node_indices()
            .map(|n| {
                let component = self.component(designs, n);
                let design = &designs[self.graph[n].design];
                NodeView {
                    id: component.id.clone(),
                    kind: component.kind.clone(),
                    api_version: component.api_version.clone(),
                    namespace: component.namespace.clone(),
                    name: component.name.clone(),
                    file: design.file.clone(),
                    line: component.span.line,
                }
            })
            .collect();
        let edges = self
            .edges()
            .map(|(from, to, edge)| EdgeView {
                from: self.component(designs, from).id.clone(),
                to: self.component(designs, to).id.clone(),
                from_node: from.index(),
                to_node: to.index(),
                kind: edge.kind.clone(),
                r#type: edge.r#type.clone(),
                sub_type: edge.sub_type.clone(),
                inferred: matches!(edge.source, EdgeSource::Inferred { .. }),
            })
            .collect();
        let dangling = self
            .dangling
            .iter()
            .map(|end| {
                let (id, target_kind, target_name) = match &end.missing {
                    Missing::Component(id) => (Some(id.clone()), None, None),
                    Missing::Object { kind, name } => (None, Some(kind.clone()), name.clone()),
                };
                DanglingView {
                    component: self.component(designs, end.node).id.clone(),
                    node: end.node.index(),
                    missing_end: if end.missing_is_to { "to" } else { "from" },
                    id,
                    target_kind,
                    target_name,
                    kind: end.kind.clone(),
                    r#type: end.r#type.clone(),
                    sub_type: end.sub_type.clone(),
                    inferred: end.inferred,
                    code: end.code.clone(),
                }
            })
            .collect();
        GraphView { nodes, edges, dangling }
    }
}


/// The graph as `weft graph` prints it. DOT and Mermaid name nodes by
/// position (`n0`…), since component ids are unique only per design and
/// Mermaid ids cannot hold every character an id may.
#[derive(Debug, Serialize)]
pub struct GraphView {
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
    /// Relationship ends that name nothing; absent from JSON when there
    /// are none, as before they were listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dangling: Vec<DanglingView>,
}

#[derive(Debug, Serialize)]
pub struct NodeView {
    pub id: String,
    pub kind: String,
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub namespace: Option<String>,
    pub name: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Serialize)]
pub struct EdgeView {
    pub from: String,
    pub to: String,
    pub kind: String,
    #[serde(rename = "type")]
    pub r#type: String,
    #[serde(rename = "subType")]
    pub sub_type: String,
    /// Inferred by weft rather than declared in the design.
    pub inferred: bool,
    /// Positions in `nodes`: component ids are unique only within a
    /// design, so pictures link nodes by position.
    #[serde(skip)]
    pub from_node: usize,
    #[serde(skip)]
    pub to_node: usize,
}

/// A relationship end that names nothing, as `weft graph` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DanglingView {
    /// The id of the component at the present end.
    pub component: String,
    /// Its position in `nodes`.
    #[serde(skip)]
    pub node: usize,
    /// `to` when the component refers to the missing end, else `from`.
    pub missing_end: &'static str,
    /// The component id a declared relationship names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The kind and name a reference names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    pub kind: String,
    #[serde(rename = "type")]
    pub r#type: String,
    pub sub_type: String,
    pub inferred: bool,
    pub code: String,
}

impl NodeView {
    /// The namespace the component belongs to: its own, or for a Namespace
    /// the one it makes (pictures draw each Namespace in its own frame).
    pub fn scope(&self) -> Option<String> {
        match &self.namespace {
            Some(ns) => Some(ns.clone()),
            None if self.kind == "Namespace" => Some(self.name.clone()),
            None => None,
        }
    }
}

/// Something a dangling end names and the graph lacks: what a picture's
/// placeholder stands for.
#[derive(Debug, PartialEq, Eq)]
pub struct MissingView {
    /// The kind named; `component` for a declared relationship's id,
    /// `object` when a reference names no kind.
    pub kind: String,
    /// The name or id named; empty for a selector that matches nothing.
    pub name: String,
    /// The scope of the (first) component that names it.
    pub scope: Option<String>,
    /// The namespace of the (first) component that names it.
    pub namespace: Option<String>,
}

impl MissingView {
    pub fn label(&self) -> String {
        if self.name.is_empty() { format!("no {} matches", self.kind) } else { format!("missing {} {}", self.kind, self.name) }
    }
}

impl GraphView {
    /// One missing thing per distinct thing named: a component id per
    /// file, an object per scope, kind and name, while a selector that
    /// matches nothing names no object, so each is its own. Also, for each
    /// of `dangling` in order, the index of the thing it names.
    pub fn missing(&self) -> (Vec<MissingView>, Vec<usize>) {
        let mut things: Vec<MissingView> = Vec::new();
        let mut keys: BTreeMap<(Option<String>, String, String, String), usize> = BTreeMap::new();
        let mut of_dangling = Vec::with_capacity(self.dangling.len());
        for end in &self.dangling {
            let present = &self.nodes[end.node];
            let scope = present.scope();
            let (kind, name, key) = match (&end.id, &end.target_kind, &end.target_name) {
                (Some(id), _, _) => ("component".to_owned(), id.clone(), (None, present.file.clone(), String::new(), id.clone())),
                (None, kind, name) => {
                    let kind = kind.clone().unwrap_or_else(|| "object".to_owned());
                    match name {
                        Some(name) => (kind.clone(), name.clone(), (scope.clone(), String::new(), kind, name.clone())),
                        None => (kind.clone(), String::new(), (scope.clone(), format!("n{}", end.node), kind, String::new())),
                    }
                }
            };
            let index = *keys.entry(key).or_insert_with(|| {
                things.push(MissingView { kind, name, scope, namespace: present.namespace.clone() });
                things.len() - 1
            });
            of_dangling.push(index);
        }
        (things, of_dangling)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("graph view serialises") + "\n"
    }

    /// Graphviz DOT: one cluster per file, nodes labelled `Kind` and
    /// `namespace/name`, edges labelled `kind/type/subType`.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph weft {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
        let mut by_file: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, node) in self.nodes.iter().enumerate() {
            by_file.entry(node.file.as_str()).or_default().push(i);
        }
        for (cluster, (file, nodes)) in by_file.iter().enumerate() {
            let _ = writeln!(out, "  subgraph cluster_{cluster} {{\n    label={};", dot_quote(file));
            for &i in nodes {
                let node = &self.nodes[i];
                let _ = writeln!(out, "    n{i} [label={}, tooltip={}];", dot_quote(&node_label(node)), dot_quote(&node.id));
            }
            out.push_str("  }\n");
        }
        for edge in &self.edges {
            // Inferred edges are dashed, declared ones solid.
            let style = if edge.inferred { ", style=dashed" } else { "" };
            let _ = writeln!(out, "  n{} -> n{} [label={}{style}];", edge.from_node, edge.to_node, dot_quote(&edge_label(edge)));
        }
        let (missing, of_dangling) = self.missing();
        for (m, thing) in missing.iter().enumerate() {
            let _ = writeln!(out, "  m{m} [label={}, color=red, fontcolor=red, style=dashed];", dot_quote(&thing.label()));
        }
        for (dangling, m) in self.dangling.iter().zip(of_dangling) {
            let (from, to) = if dangling.missing_end == "to" { (format!("n{}", dangling.node), format!("m{m}")) } else { (format!("m{m}"), format!("n{}", dangling.node)) };
            let _ = writeln!(out, "  {from} -> {to} [label={}, color=red, fontcolor=red, style=dashed];", dot_quote(&dangling.code));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let _ = writeln!(out, "  n{i}[\"{}\"]", mermaid_escape(&node_label(node)).replace('\n', "<br/>"));
        }
        for edge in &self.edges {
            let arrow = if edge.inferred { "-.->" } else { "-->" };
            let _ = writeln!(out, "  n{} {arrow}|\"{}\"| n{}", edge.from_node, mermaid_escape(&edge_label(edge)), edge.to_node);
        }
        let (missing, of_dangling) = self.missing();
        for (m, thing) in missing.iter().enumerate() {
            let _ = writeln!(out, "  m{m}[\"{}\"]:::missing", mermaid_escape(&thing.label()));
        }
        for (dangling, m) in self.dangling.iter().zip(of_dangling) {
            let (from, to) = if dangling.missing_end == "to" { (format!("n{}", dangling.node), format!("m{m}")) } else { (format!("m{m}"), format!("n{}", dangling.node)) };
            let _ = writeln!(out, "  {from} -.->|\"{}\"| {to}", mermaid_escape(&dangling.code));
        }
        if !missing.is_empty() {
            out.push_str("  classDef missing stroke:#d32f2f,color:#d32f2f,stroke-dasharray:4\n");
        }
        out
    }
}

fn node_label(node: &NodeView) -> String {
    match &node.namespace {
        Some(ns) => format!("{}\n{}/{}", node.kind, ns, node.name),
        None => format!("{}\n{}", node.kind, node.name),
    }
}

fn edge_label(edge: &EdgeView) -> String {
    format!("{}/{}/{}", edge.kind, edge.r#type, edge.sub_type)
}

fn dot_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

fn mermaid_escape(text: &str) -> String {
    text.replace('"', "#quot;")
}
