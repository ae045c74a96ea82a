//! Pictures of the component graph for people: an SVG, and a
//! self-contained HTML page around it that pans, zooms and highlights a
//! node's neighbours. Components are boxes with a kind badge and their
//! name, grouped in one frame per namespace; relationships are curves
//! coloured by kind and type, declared solid, inferred dashed, and
//! references that name nothing in red, to a placeholder for what is
//! missing. Only kinds, names, namespaces and ids are drawn: never a
//! configuration, so a Secret's data cannot end up in a picture.
//!
//! The picture is a function of the `GraphView` alone, so the graph stage
//! knows nothing of it, and the same graph always gives the same bytes.

mod html;
mod layout;
mod svg;

use crate::graph::{GraphView, NodeView};

/// The graph as a standalone SVG document.
pub fn svg(view: &GraphView) -> String {
    svg::render(&Picture::of(view), svg::Mode::Standalone)
}

/// The graph as an HTML page that needs no network: the SVG inline, with
/// the script and styles that make it explorable.
pub fn html(view: &GraphView, title: &str) -> String {
    html::page(&Picture::of(view), title)
}

/// What is drawn, before it is placed.
struct Picture {
    items: Vec<Item>,
    links: Vec<Link>,
    groups: Vec<String>,
    layout: layout::Layout,
}

/// A box: a component, or a placeholder for what a dangling end names.
struct Item {
    /// The element id in the picture: `n<position>` for components,
    /// `m<index>` for placeholders.
    element: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    /// The component id; none for placeholders.
    id: Option<String>,
    missing: bool,
    group: usize,
}

struct Link {
    from: usize,
    to: usize,
    family: Family,
    inferred: bool,
    /// The diagnostic code of an end that names nothing.
    dangling: Option<String>,
    /// `kind/type/subType`.
    label: String,
}

/// Relationship kinds and types drawn in one colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Inventory,
    Hierarchy,
    Network,
    Reference,
    Binding,
    Other,
}

impl Family {
    fn of(kind: &str, r#type: &str, sub_type: &str) -> Family {
        let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        if is(kind, "hierarchical") {
            if is(sub_type, "inventory") { Family::Inventory } else { Family::Hierarchy }
        } else if is(kind, "edge") && is(r#type, "binding") {
            Family::Binding
        } else if is(kind, "edge") && is(sub_type, "network") {
            Family::Network
        } else if is(kind, "edge") && is(sub_type, "reference") {
            Family::Reference
        } else {
            Family::Other
        }
    }

    /// CSS class, also the arrow marker's id suffix.
    fn class(self) -> &'static str {
        match self {
            Family::Inventory => "inventory",
            Family::Hierarchy => "hierarchy",
            Family::Network => "network",
            Family::Reference => "reference",
            Family::Binding => "binding",
            Family::Other => "other",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Family::Inventory => "#9aa0a6",
            Family::Hierarchy => "#8e24aa",
            Family::Network => "#1e88e5",
            Family::Reference => "#00897b",
            Family::Binding => "#ef6c00",
            Family::Other => "#5c6bc0",
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Family::Inventory => "hierarchical / inventory",
            Family::Hierarchy => "hierarchical (other)",
            Family::Network => "edge / network",
            Family::Reference => "edge / reference",
            Family::Binding => "edge / binding",
            Family::Other => "other relationship",
        }
    }

    const ALL: [Family; 6] =
        [Family::Inventory, Family::Hierarchy, Family::Network, Family::Reference, Family::Binding, Family::Other];
}

/// Red, for relationship ends that name nothing.
const DANGLING_COLOUR: &str = "#d32f2f";

impl Picture {
    fn of(view: &GraphView) -> Picture {
        let mut items: Vec<Item> = view
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| Item {
                element: format!("n{i}"),
                kind: node.kind.clone(),
                name: node.name.clone(),
                namespace: node.namespace.clone(),
                id: Some(node.id.clone()),
                missing: false,
                group: 0,
            })
            .collect();
        // Each component is drawn in the frame of its namespace; a Namespace in the one it makes.
        let mut frames: Vec<Option<String>> = view.nodes.iter().map(NodeView::scope).collect();
        let mut links: Vec<Link> = view
            .edges
            .iter()
            .filter(|e| e.from_node < view.nodes.len() && e.to_node < view.nodes.len())
            .map(|e| Link {
                from: e.from_node,
                to: e.to_node,
                family: Family::of(&e.kind, &e.r#type, &e.sub_type),
                inferred: e.inferred,
                dangling: None,
                label: format!("{}/{}/{}", e.kind, e.r#type, e.sub_type),
            })
            .collect();

        // One placeholder per missing thing (see `GraphView::missing`).
        let (missing, of_dangling) = view.missing();
        let first_placeholder = items.len();
        for (m, thing) in missing.into_iter().enumerate() {
            items.push(Item {
                element: format!("m{m}"),
                kind: thing.kind,
                name: if thing.name.is_empty() { "nothing matches".to_owned() } else { thing.name },
                namespace: thing.namespace,
                id: None,
                missing: true,
                group: 0,
            });
            frames.push(thing.scope);
        }
        for (end, m) in view.dangling.iter().zip(of_dangling) {
            let placeholder = first_placeholder + m;
            let (from, to) = if end.missing_end == "to" { (end.node, placeholder) } else { (placeholder, end.node) };
            links.push(Link {
                from,
                to,
                family: Family::of(&end.kind, &end.r#type, &end.sub_type),
                inferred: end.inferred,
                dangling: Some(end.code.clone()),
                label: format!("{}/{}/{}", end.kind, end.r#type, end.sub_type),
            });
        }

        // Frames: what has no namespace first, then namespaces by name.
        let mut names: Vec<&Option<String>> = frames.iter().collect();
        names.sort();
        names.dedup();
        let groups: Vec<String> = names
            .iter()
            .map(|n| match n {
                Some(ns) => format!("namespace {ns}"),
                None => "cluster-scoped or no namespace".to_owned(),
            })
            .collect();
        for (item, frame) in items.iter_mut().zip(&frames) {
            item.group = names.binary_search(&frame).unwrap_or(0);
        }
        let group_of: Vec<usize> = items.iter().map(|i| i.group).collect();
        let dependencies: Vec<(usize, usize)> = links
            .iter()
            .map(|l| if l.family == Family::Inventory || l.family == Family::Hierarchy { (l.to, l.from) } else { (l.from, l.to) })
            .collect();
        let min_widths: Vec<f64> = groups.iter().map(|label| svg::label_width(label)).collect();
        let layout = layout::layout(&group_of, &min_widths, &dependencies, svg::LEGEND_HEIGHT);
        Picture { items, links, groups, layout }
    }

    /// The relationship families drawn, in legend order.
    fn families(&self) -> Vec<Family> {
        Family::ALL.into_iter().filter(|f| self.links.iter().any(|l| l.family == *f)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{DanglingView, EdgeView, NodeView};

    fn node(kind: &str, namespace: Option<&str>, name: &str) -> NodeView {
        NodeView {
            id: format!("id-{name}"),
            kind: kind.into(),
            api_version: "v1".into(),
            namespace: namespace.map(str::to_owned),
            name: name.into(),
            file: "f.yaml".into(),
            line: 1,
        }
    }

    fn edge(from: usize, to: usize, kind: &str, r#type: &str, sub_type: &str, inferred: bool) -> EdgeView {
        EdgeView {
            from: String::new(),
            to: String::new(),
            kind: kind.into(),
            r#type: r#type.into(),
            sub_type: sub_type.into(),
            inferred,
            from_node: from,
            to_node: to,
        }
    }

    fn missing(node: usize, kind: &str, name: Option<&str>) -> DanglingView {
        DanglingView {
            component: String::new(),
            node,
            missing_end: "from",
            id: None,
            target_kind: Some(kind.into()),
            target_name: name.map(str::to_owned),
            kind: "edge".into(),
            r#type: "non-binding".into(),
            sub_type: "reference".into(),
            inferred: true,
            code: "missing-reference".into(),
        }
    }

    #[test]
    fn namespaces_are_frames_and_hold_their_namespace_object() {
        let view = GraphView {
            nodes: vec![node("Namespace", None, "shop"), node("Deployment", Some("shop"), "web"), node("ClusterRole", None, "reader")],
            edges: vec![edge(1, 0, "hierarchical", "parent", "inventory", true)],
            dangling: vec![],
        };
        let picture = Picture::of(&view);
        assert_eq!(picture.groups, vec!["cluster-scoped or no namespace", "namespace shop"]);
        let groups: Vec<usize> = picture.items.iter().map(|i| i.group).collect();
        assert_eq!(groups, vec![1, 1, 0]);
        // The inventory parent is drawn before its member.
        assert!(picture.layout.nodes[0].x < picture.layout.nodes[1].x);
    }

    #[test]
    fn one_placeholder_per_missing_object() {
        let view = GraphView {
            nodes: vec![node("Deployment", Some("a"), "one"), node("Deployment", Some("a"), "two"), node("Service", Some("a"), "svc")],
            edges: vec![],
            dangling: vec![missing(0, "ConfigMap", Some("settings")), missing(1, "ConfigMap", Some("settings")), missing(2, "Pod", None)],
        };
        let picture = Picture::of(&view);
        let placeholders: Vec<(&str, &str)> =
            picture.items.iter().filter(|i| i.missing).map(|i| (i.kind.as_str(), i.name.as_str())).collect();
        assert_eq!(placeholders, vec![("ConfigMap", "settings"), ("Pod", "nothing matches")]);
        let dangling: Vec<(usize, usize)> = picture.links.iter().filter(|l| l.dangling.is_some()).map(|l| (l.from, l.to)).collect();
        assert_eq!(dangling, vec![(3, 0), (3, 1), (4, 2)], "the missing end is `from`: the placeholder points at the component");
    }

    /// The picture, DOT and Mermaid share one notion of a missing thing:
    /// the same ConfigMap name missing in two namespaces is two things.
    #[test]
    fn missing_things_are_per_namespace_and_shared_by_every_format() {
        let view = GraphView {
            nodes: vec![node("Deployment", Some("a"), "one"), node("Deployment", Some("b"), "two"), node("Deployment", Some("a"), "three")],
            edges: vec![],
            dangling: vec![missing(0, "ConfigMap", Some("settings")), missing(1, "ConfigMap", Some("settings")), missing(2, "ConfigMap", Some("settings"))],
        };
        let (things, of_dangling) = view.missing();
        let scopes: Vec<Option<&str>> = things.iter().map(|t| t.scope.as_deref()).collect();
        assert_eq!(scopes, vec![Some("a"), Some("b")]);
        assert_eq!(of_dangling, vec![0, 1, 0]);
        assert_eq!(Picture::of(&view).items.iter().filter(|i| i.missing).count(), 2);
        let dot = view.to_dot();
        assert_eq!(dot.matches(r#"label="missing ConfigMap settings", color=red"#).count(), 2, "{dot}");
        assert!(dot.contains("m0 -> n0") && dot.contains("m1 -> n1") && dot.contains("m0 -> n2"), "{dot}");
        assert_eq!(view.to_mermaid().matches(":::missing").count(), 2);
    }

    #[test]
    fn families_by_kind_and_type() {
        assert_eq!(Family::of("Hierarchical", "parent", "inventory"), Family::Inventory);
        assert_eq!(Family::of("hierarchical", "parent", "wallet"), Family::Hierarchy);
        assert_eq!(Family::of("edge", "binding", "permission"), Family::Binding);
        assert_eq!(Family::of("edge", "non-binding", "network"), Family::Network);
        assert_eq!(Family::of("edge", "non-binding", "reference"), Family::Reference);
        assert_eq!(Family::of("sibling", "match", "x"), Family::Other);
    }
}
