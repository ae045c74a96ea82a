//! `weft graph --format svg|html`: the picture of a small design pinned by
//! a golden file, its properties (every component once, edges between
//! drawn nodes, styles by how an edge is known, no overlaps, no Secret
//! data), the layout of a few hundred components, and the HTML page
//! opened in headless Chromium.

mod common;
#[path = "common/chromium.rs"]
mod chromium;

use chromium::{file_url, headless, png_pixels};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use weft::graph::{DanglingView, EdgeView, GraphView, NodeView};

const FIXTURE: &str = "tests/fixtures/picture/shop.yaml";

/// `weft graph --format FORMAT FIXTURE` from the repo root: exit code and stdout.
fn graph(format: &str) -> (i32, String) {
    let output = weft(&["graph", "--format", format, FIXTURE], &repo_root());
    (output.status.code().unwrap(), String::from_utf8(output.stdout).unwrap())
}

/// A node box as drawn: element id, data attributes, top-left corner and size.
#[derive(Debug)]
struct Drawn {
    element: String,
    data: BTreeMap<String, String>,
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

#[derive(Debug)]
struct Line {
    class: Vec<String>,
    from: String,
    to: String,
    relationship: String,
    marker: String,
}

struct Parsed {
    nodes: Vec<Drawn>,
    lines: Vec<Line>,
    frames: Vec<(f64, f64, f64, f64)>,
    style: String,
}

fn number(text: &str) -> f64 {
    text.parse().unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

fn parse(svg: &str) -> Parsed {
    let document = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("the SVG is not well-formed XML: {e}"));
    let classes = |n: &roxmltree::Node| n.attribute("class").unwrap_or("").split(' ').map(str::to_owned).collect::<Vec<_>>();
    let mut parsed = Parsed { nodes: Vec::new(), lines: Vec::new(), frames: Vec::new(), style: String::new() };
    for n in document.descendants() {
        if n.has_tag_name("style") {
            parsed.style.push_str(n.text().unwrap_or(""));
        }
        let class = classes(&n);
        if n.has_tag_name("g") && class.contains(&"node".to_owned()) {
            let transform = n.attribute("transform").expect("a node is placed by its transform");
            let inner = transform.strip_prefix("translate(").and_then(|t| t.strip_suffix(')')).expect("translate(x y)");
            let (x, y) = inner.split_once(' ').expect("translate(x y)");
            let rect = n.children().find(|c| c.has_tag_name("rect") && c.attribute("class") == Some("box")).expect("a box");
            let data = n
                .attributes()
                .filter(|a| a.name().starts_with("data-"))
                .map(|a| (a.name()["data-".len()..].to_owned(), a.value().to_owned()))
                .collect();
            parsed.nodes.push(Drawn {
                element: n.attribute("id").expect("an id").to_owned(),
                data,
                x: number(x),
                y: number(y),
                width: number(rect.attribute("width").unwrap()),
                height: number(rect.attribute("height").unwrap()),
            });
        }
        let in_edges = n.parent().is_some_and(|p| p.attribute("class") == Some("edges"));
        if n.has_tag_name("path") && in_edges {
            parsed.lines.push(Line {
                class: class.clone(),
                from: n.attribute("data-from").expect("data-from").to_owned(),
                to: n.attribute("data-to").expect("data-to").to_owned(),
                relationship: n.attribute("data-relationship").expect("data-relationship").to_owned(),
                marker: n.attribute("marker-end").unwrap_or("").to_owned(),
            });
        }
        if n.has_tag_name("g") && class.contains(&"frame".to_owned()) {
            let rect = n.children().find(|c| c.has_tag_name("rect")).expect("a frame rectangle");
            let at = |name: &str| number(rect.attribute(name).unwrap());
            parsed.frames.push((at("x"), at("y"), at("width"), at("height")));
        }
    }
    parsed
}

fn assert_no_overlaps(nodes: &[Drawn]) {
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            let apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
            assert!(apart, "{} and {} overlap: {a:?} {b:?}", a.element, b.element);
        }
    }
}

/// Every node lies inside one frame, and frames do not overlap.
fn assert_framed(parsed: &Parsed) {
    for (i, a) in parsed.frames.iter().enumerate() {
        for b in &parsed.frames[i + 1..] {
            let apart = a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "frames overlap: {a:?} {b:?}");
        }
    }
    for node in &parsed.nodes {
        let inside = |f: &&(f64, f64, f64, f64)| {
            node.x >= f.0 && node.y >= f.1 && node.x + node.width <= f.0 + f.2 && node.y + node.height <= f.1 + f.3
        };
        assert_eq!(parsed.frames.iter().filter(inside).count(), 1, "{} is not inside exactly one frame", node.element);
    }
}

#[test]
fn the_fixture_svg_matches_its_golden_and_is_deterministic() {
    let (status, svg) = graph("svg");
    // The fixture's relationship to an absent component is an error.
    assert_eq!(status, 1);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    assert_eq!(graph("svg").1, svg, "the same design draws the same bytes");
    assert_golden("picture/shop.svg", &svg);
}

#[test]
fn the_fixture_picture_shows_the_graph() {
    let (_, json) = graph("json");
    let view: serde_json::Value = serde_json::from_str(&json).unwrap();
    let (_, svg) = graph("svg");
    let parsed = parse(&svg);

    // Every component once, as `n<position>`, with its kind, name and namespace.
    let components: Vec<&Drawn> = parsed.nodes.iter().filter(|n| !n.data.contains_key("missing")).collect();
    let nodes = view["nodes"].as_array().unwrap();
    assert_eq!(components.len(), nodes.len());
    let mut position = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let id = node["id"].as_str().unwrap();
        position.insert(id.to_owned(), format!("n{i}"));
        let drawn: Vec<&&Drawn> = components.iter().filter(|d| d.data.get("id").map(String::as_str) == Some(id)).collect();
        assert_eq!(drawn.len(), 1, "{id} is drawn {} times", drawn.len());
        assert_eq!(drawn[0].element, format!("n{i}"));
        assert_eq!(drawn[0].data["kind"], node["kind"].as_str().unwrap());
        assert_eq!(drawn[0].data["name"], node["name"].as_str().unwrap());
        assert_eq!(drawn[0].data.get("namespace").map(String::as_str), node["namespace"].as_str());
    }

    // Every line joins two drawn boxes.
    let elements: BTreeSet<&str> = parsed.nodes.iter().map(|n| n.element.as_str()).collect();
    for line in &parsed.lines {
        assert!(elements.contains(line.from.as_str()) && elements.contains(line.to.as_str()), "{line:?}");
    }

    // Each edge of the graph is one line: dashed when inferred, solid when declared.
    let edges = view["edges"].as_array().unwrap();
    let graph_lines: Vec<&Line> = parsed.lines.iter().filter(|l| !l.class.contains(&"dangling".to_owned())).collect();
    assert_eq!(graph_lines.len(), edges.len());
    for edge in edges {
        let (from, to) = (&position[edge["from"].as_str().unwrap()], &position[edge["to"].as_str().unwrap()]);
        let relationship = format!("{}/{}/{}", edge["kind"].as_str().unwrap(), edge["type"].as_str().unwrap(), edge["subType"].as_str().unwrap());
        let line = graph_lines
            .iter()
            .find(|l| &l.from == from && &l.to == to && l.relationship == relationship)
            .unwrap_or_else(|| panic!("no line for {edge}"));
        assert_eq!(line.class.contains(&"inferred".to_owned()), edge["inferred"] == true, "{edge} {line:?}");
    }
    assert!(parsed.style.contains(".edge.inferred{stroke-dasharray:"), "inferred lines are dashed");

    // The two references that name nothing are red lines to placeholders.
    let missing: Vec<&Drawn> = parsed.nodes.iter().filter(|n| n.data.contains_key("missing")).collect();
    let mut named: Vec<(&str, &str)> = missing.iter().map(|n| (n.data["kind"].as_str(), n.data["name"].as_str())).collect();
    named.sort();
    assert_eq!(named, vec![("ConfigMap", "feature-flags"), ("component", "7a1c0de5-0000-4000-8000-0000000000ff")]);
    let dangling: Vec<&Line> = parsed.lines.iter().filter(|l| l.class.contains(&"dangling".to_owned())).collect();
    assert_eq!(dangling.len(), view["dangling"].as_array().unwrap().len());
    for line in &dangling {
        assert!(missing.iter().any(|m| m.element == line.from || m.element == line.to), "{line:?}");
        assert_eq!(line.marker, "url(#arrow-dangling)");
    }
    assert!(parsed.style.contains(".edge.dangling{stroke:#d32f2f"), "dangling lines are red");
    let inferred_dangling = dangling.iter().find(|l| l.relationship == "edge/non-binding/reference").unwrap();
    assert!(inferred_dangling.class.contains(&"inferred".to_owned()), "a reference weft resolves is inferred");

    // Frames per namespace, the cluster-scoped ones apart.
    assert!(svg.contains("data-frame=\"namespace shop\""), "{svg}");
    assert!(svg.contains("data-frame=\"cluster-scoped or no namespace\""));
    assert_eq!(parsed.frames.len(), 2);
    assert_framed(&parsed);
    assert_no_overlaps(&parsed.nodes);
    // Only kinds and names: the Secret's value is nowhere.
    assert!(!svg.contains("do-not-draw-this-password"));
    assert!(!graph("html").1.contains("do-not-draw-this-password"));
}

/// SplitMix64, for a reproducible generated graph.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// About 300 components in 8 namespaces and some cluster-scoped ones:
/// inventory edges to each Namespace, references and network edges at
/// random (cycles included), across namespaces too, and some dangling ends.
fn generated(count: usize) -> GraphView {
    let mut rng = Rng(7);
    let kinds = ["Deployment", "Service", "ConfigMap", "Secret", "ServiceAccount", "StatefulSet", "Ingress", "VirtualService"];
    let mut nodes = Vec::new();
    for ns in 0..8 {
        nodes.push(NodeView {
            id: format!("ns-{ns}"),
            kind: "Namespace".into(),
            api_version: "v1".into(),
            namespace: None,
            name: format!("team-{ns}"),
            file: "generated.yaml".into(),
            line: 1,
        });
    }
    while nodes.len() < count {
        let i = nodes.len();
        let cluster_scoped = i % 25 == 0;
        nodes.push(NodeView {
            id: format!("c-{i}"),
            kind: if cluster_scoped { "ClusterRole".into() } else { kinds[rng.below(kinds.len())].into() },
            api_version: "v1".into(),
            namespace: if cluster_scoped { None } else { Some(format!("team-{}", rng.below(8))) },
            name: format!("component-with-a-long-name-{i}"),
            file: "generated.yaml".into(),
            line: 1,
        });
    }
    let edge = |from: usize, to: usize, kind: &str, sub_type: &str, inferred: bool| EdgeView {
        from: nodes[from].id.clone(),
        to: nodes[to].id.clone(),
        kind: kind.into(),
        r#type: if kind == "edge" { "non-binding".into() } else { "parent".into() },
        sub_type: sub_type.into(),
        inferred,
        from_node: from,
        to_node: to,
    };
    let mut edges = Vec::new();
    for (i, node) in nodes.iter().enumerate().skip(8) {
        if let Some(ns) = &node.namespace {
            let parent = ns.trim_start_matches("team-").parse::<usize>().unwrap();
            edges.push(edge(i, parent, "hierarchical", "inventory", true));
        }
    }
    for _ in 0..count {
        let (a, b) = (8 + rng.below(count - 8), 8 + rng.below(count - 8));
        let sub_type = if rng.below(2) == 0 { "network" } else { "reference" };
        edges.push(edge(a, b, "edge", sub_type, rng.below(3) > 0));
    }
    let dangling = (0..10)
        .map(|k| DanglingView {
            component: String::new(),
            node: 8 + rng.below(count - 8),
            missing_end: if k % 2 == 0 { "from" } else { "to" },
            id: None,
            target_kind: Some("ConfigMap".into()),
            target_name: Some(format!("absent-{k}")),
            kind: "edge".into(),
            r#type: "non-binding".into(),
            sub_type: "reference".into(),
            inferred: true,
            code: "missing-reference".into(),
        })
        .collect();
    GraphView { nodes, edges, dangling }
}

#[test]
fn three_hundred_components_are_laid_out_without_overlap() {
    let view = generated(300);
    let svg = weft::picture::svg(&view);
    assert_eq!(weft::picture::svg(&view), svg, "the same graph draws the same bytes");
    let parsed = parse(&svg);
    let components: BTreeSet<&str> = parsed.nodes.iter().filter_map(|n| n.data.get("id").map(String::as_str)).collect();
    assert_eq!(components.len(), 300);
    assert_eq!(parsed.nodes.len(), 300 + 10, "and one placeholder per missing ConfigMap");
    assert_eq!(parsed.lines.len(), view.edges.len() + view.dangling.len());
    assert_eq!(parsed.frames.len(), 9);
    assert_no_overlaps(&parsed.nodes);
    assert_framed(&parsed);
    // Readable: no frame taller than a dozen rows, so a big layer wraps.
    let tallest = parsed.frames.iter().map(|f| f.3).fold(0.0, f64::max);
    assert!(tallest < 800.0, "a frame {tallest}px tall");
}

#[test]
fn hostile_names_are_escaped() {
    let mut view = generated(20);
    view.nodes[9].name = "<script>alert(1)</script> & \"quotes\" 'too' \u{1}".into();
    view.nodes[10].namespace = Some("ns\"><g onload=\"x".into());
    let svg = weft::picture::svg(&view);
    let parsed = parse(&svg);
    let drawn = parsed.nodes.iter().find(|n| n.element == "n9").unwrap();
    assert_eq!(drawn.data["name"], "<script>alert(1)</script> & \"quotes\" 'too' \u{FFFD}");
    assert!(!svg.contains("<script>"));
    let page = weft::picture::html(&view, "a <title> & more");
    assert!(page.contains("<title>a &lt;title&gt; &amp; more</title>"));
    assert_eq!(page.matches("<script>").count(), 1, "only the page's own script");
}

#[test]
fn html_page_renders_in_headless_chromium() {
    let Some(chromium) = chromium::chromium_for("html_page_renders_in_headless_chromium") else { return };
    let (status, page) = graph("html");
    assert_eq!(status, 1);
    assert!(!page.contains("src=\"http") && !page.contains("<link") && !page.contains("url(http"), "the page must be self-contained");
    let (_, json) = graph("json");
    let view: serde_json::Value = serde_json::from_str(&json).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("graph.html");
    std::fs::write(&file, &page).unwrap();
    let profile = dir.path().join("profile");

    // After the script ran: it set up without error, and every component is in the DOM.
    let dom = headless(&chromium, &profile, &["--dump-dom"], &file_url(&file));
    let body = &dom[dom.find("<body").expect("a body")..];
    let body_tag = &body[..body.find('>').unwrap()];
    assert!(body_tag.contains("data-ready=\"true\""), "the script did not finish: {body_tag}");
    assert!(!body_tag.contains("data-error"), "the script failed: {body_tag}");
    let nodes = view["nodes"].as_array().unwrap();
    assert!(body_tag.contains(&format!("data-nodes=\"{}\"", nodes.len() + 2)), "{body_tag}");
    for node in nodes {
        let id = node["id"].as_str().unwrap();
        assert_eq!(dom.matches(&format!("data-id=\"{id}\"")).count(), 1, "{id} in the DOM");
    }
    assert!(dom.contains("data-name=\"web-config\""));
    // The script moved the drawing to fit the window.
    assert!(dom.contains("<g id=\"viewport\" transform=\"translate("), "not fitted");

    // Finding a node pins it: it and its neighbours are lit, the rest dimmed.
    let found = headless(&chromium, &profile, &["--dump-dom"], &format!("{}#find=web-config", file_url(&file)));
    assert!(found.contains("class=\"weft-graph focus\""), "nothing highlighted");
    fn attribute(tag: &str, name: &str) -> String {
        let value = &tag[tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2..];
        value[..value.find('"').unwrap()].to_owned()
    }
    let lit: BTreeSet<String> = found
        .match_indices("<g class=\"node")
        .map(|(at, _)| &found[at..at + found[at..].find('>').unwrap()])
        .filter(|tag| attribute(tag, "class").split(' ').any(|c| c == "lit"))
        .map(|tag| attribute(tag, "data-name"))
        .collect();
    assert_eq!(lit, BTreeSet::from(["web-config".to_owned(), "web".to_owned(), "shop".to_owned()]), "web-config, the Deployment that mounts it, and its Namespace");
    // A malformed escape in a link still leaves a working page.
    let malformed = headless(&chromium, &profile, &["--dump-dom"], &format!("{}#find=%E0%A4%A", file_url(&file)));
    let body = &malformed[malformed.find("<body").expect("a body")..];
    let body_tag = &body[..body.find('>').unwrap()];
    assert!(body_tag.contains("data-ready=\"true\"") && !body_tag.contains("data-error"), "the page broke on #find=%E0%A4%A: {body_tag}");

    // A screenshot with the drawing on it: many colours, among them the
    // Deployment badge's blue and the red of what is missing.
    let png = dir.path().join("graph.png");
    headless(&chromium, &profile, &["--window-size=1200,700", &format!("--screenshot={}", png.display())], &file_url(&file));
    let pixels = png_pixels(&std::fs::read(&png).expect("the screenshot")).expect("a PNG");
    assert_eq!(pixels.len(), 1200 * 700);
    let colours: BTreeSet<[u8; 4]> = pixels.iter().copied().collect();
    let near = |want: [u8; 3]| {
        pixels.iter().filter(|p| (0..3).all(|c| (i16::from(p[c]) - i16::from(want[c])).abs() <= 6)).count()
    };
    assert!(colours.len() > 50, "{} colours: the page looks blank", colours.len());
    assert!(near([0x15, 0x65, 0xc0]) > 200, "no Deployment badge in the screenshot");
    assert!(near([0xd3, 0x2f, 0x2f]) > 200, "no red for the missing objects in the screenshot");
    if let Some(keep) = std::env::var_os("WEFT_PICTURE_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&file, std::path::Path::new(&keep).join("graph.html")).unwrap();
        std::fs::copy(&png, std::path::Path::new(&keep).join("graph.png")).unwrap();
    }
}

/// DOT and Mermaid show what the picture shows of references to nothing:
/// one red placeholder per missing object, joined by a red dashed edge
/// labelled with the diagnostic that reports it.
#[test]
fn dot_and_mermaid_draw_dangling_references_to_placeholders() {
    let (code, dot) = graph("dot");
    assert_eq!(code, 1, "the fixture's dangling relationship is an error");
    let placeholders: Vec<&str> = dot.lines().filter(|l| l.trim_start().starts_with('m') && l.contains("color=red, fontcolor=red, style=dashed]") && !l.contains("->")).collect();
    assert_eq!(placeholders.len(), 2, "{dot}");
    assert!(dot.contains(r#"[label="missing ConfigMap feature-flags", color=red"#), "{dot}");
    let red_edges: Vec<&str> = dot.lines().filter(|l| l.contains("->") && l.contains("color=red")).collect();
    assert_eq!(red_edges.len(), 2, "{dot}");
    assert!(red_edges.iter().any(|l| l.contains(r#"label="missing-reference""#)), "{dot}");
    assert!(red_edges.iter().any(|l| l.contains(r#"label="dangling-relationship""#)), "{dot}");

    let (_, mermaid) = graph("mermaid");
    assert!(mermaid.contains(r#"["missing ConfigMap feature-flags"]:::missing"#), "{mermaid}");
    assert_eq!(mermaid.matches(":::missing").count(), 2, "{mermaid}");
    assert!(mermaid.contains("classDef missing"), "{mermaid}");
}
