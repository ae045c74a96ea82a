//! The picture as SVG text. Coordinates come from the layout; text is
//! escaped for XML and clipped to its box (the full text is in each
//! element's `<title>`, which viewers show on hover).

use super::layout::{GROUP_PADDING, MARGIN, NODE_HEIGHT, NODE_WIDTH, Point, ROW_GAP};
use super::{DANGLING_COLOUR, Family, Item, Link, Picture};
pub(super) use crate::markup::escape;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Room above the frames for the legend.
pub(super) const LEGEND_HEIGHT: f64 = 70.0;
/// About the advance of one character of the bold 12px text (names,
/// frame labels) and of the 10px kind line, to clip text to its box
/// without measuring fonts.
const CHAR_WIDTH: f64 = 7.8;
const SMALL_CHAR_WIDTH: f64 = 6.4;
const BADGE_WIDTH: f64 = 42.0;
/// The legend's line styles, in no relationship's colour.
const SAMPLE_COLOUR: &str = "#455a64";

pub(super) enum Mode {
    /// A document of its own, sized to the drawing.
    Standalone,
    /// Inline in the HTML page, which sizes it and moves `#viewport`.
    Page,
}

pub(super) fn render(picture: &Picture, mode: Mode) -> String {
    let (legend, legend_width) = legend(picture);
    let width = picture.layout.width.max(legend_width + 2.0 * MARGIN);
    let height = picture.layout.height;
    let mut out = String::new();
    // The page fits the drawing below the legend, which starts at `data-top`.
    let size = format!("data-width=\"{}\" data-height=\"{}\" data-top=\"{}\"", num(width), num(height), num(LEGEND_HEIGHT));
    match mode {
        Mode::Standalone => {
            let _ = writeln!(
                out,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"weft-graph\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" {size}>",
                w = num(width),
                h = num(height)
            );
        }
        Mode::Page => {
            let _ = writeln!(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"weft-graph\" id=\"graph\" {size}>");
        }
    }
    out.push_str(&style());
    out.push_str(&markers());
    out.push_str("<g id=\"viewport\">\n");
    let _ = writeln!(out, "<rect class=\"background\" width=\"{}\" height=\"{}\"/>", num(width), num(height));
    out.push_str("<g class=\"frames\">\n");
    for (label, frame) in picture.groups.iter().zip(&picture.layout.groups) {
        // The layout widened the frame for its label; a huge one is still clipped.
        let room = ((frame.width - 2.0 * GROUP_PADDING) / CHAR_WIDTH) as usize;
        let _ = writeln!(
            out,
            "<g class=\"frame\" data-frame=\"{label}\"><title>{label}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            num(frame.x),
            num(frame.y),
            num(frame.width),
            num(frame.height),
            num(frame.x + GROUP_PADDING),
            num(frame.y + 20.0),
            escape(&clip(label, room)),
            label = escape(label),
        );
    }
    out.push_str("</g>\n<g class=\"edges\">\n");
    let columns = Columns::of(picture);
    for (i, link) in picture.links.iter().enumerate() {
        out.push_str(&edge(picture, &columns, i, link));
    }
    out.push_str("</g>\n<g class=\"nodes\">\n");
    for (item, at) in picture.items.iter().zip(&picture.layout.nodes) {
        out.push_str(&node(item, *at));
    }
    out.push_str("</g>\n</g>\n");
    out.push_str(&legend);
    out.push_str("</svg>\n");
    out
}

fn style() -> String {
    let mut css = String::from(
        "<style>\n\
         .weft-graph{font-family:\"DejaVu Sans\",Helvetica,Arial,sans-serif}\n\
         .background{fill:#ffffff}\n\
         .frame rect{fill:#f4f6f9;stroke:#c3cad3}\n\
         .frame text{font-size:12px;font-weight:bold;fill:#455a64}\n\
         .node .box{fill:#ffffff;stroke:#90a4ae}\n\
         .node.missing .box{fill:#fff4f4;stroke:#d32f2f;stroke-dasharray:4 3}\n\
         .node .badge-text{font-size:9px;font-weight:bold;fill:#ffffff}\n\
         .node .kind{font-size:10px;fill:#607d8b}\n\
         .node.missing .kind{fill:#d32f2f}\n\
         .node .name{font-size:12px;font-weight:bold;fill:#212121}\n\
         .edge{fill:none;stroke-width:1.5}\n\
         .edge.inferred{stroke-dasharray:6 4}\n\
         .legend .back{fill:#ffffff;fill-opacity:0.92;stroke:#dfe3e8}\n\
         .legend text{font-size:11px;fill:#37474f}\n",
    );
    for family in Family::ALL {
        let _ = writeln!(css, ".edge.{}{{stroke:{}}}", family.class(), family.colour());
    }
    let _ = writeln!(css, ".edge.sample{{stroke:{SAMPLE_COLOUR}}}");
    let _ = writeln!(css, ".edge.dangling{{stroke:{DANGLING_COLOUR};stroke-width:2}}");
    css.push_str("</style>\n");
    css
}

fn markers() -> String {
    let mut defs = String::from("<defs>\n");
    let colours =
        Family::ALL.iter().map(|f| (f.class(), f.colour())).chain([("dangling", DANGLING_COLOUR), ("sample", SAMPLE_COLOUR)]);
    for (name, colour) in colours {
        let _ = writeln!(
            defs,
            "<marker id=\"arrow-{name}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker>"
        );
    }
    defs.push_str("</defs>\n");
    defs
}

fn node(item: &Item, at: Point) -> String {
    let (badge, colour) = if item.missing { ("?".to_owned(), DANGLING_COLOUR) } else { badge(&item.kind) };
    let kind_line = if item.missing { format!("missing {}", item.kind) } else { item.kind.clone() };
    let title = match &item.namespace {
        Some(ns) => format!("{kind_line} {ns}/{}", item.name),
        None => format!("{kind_line} {}", item.name),
    };
    let text_width = NODE_WIDTH - BADGE_WIDTH - 18.0;
    let mut attributes = String::new();
    if let Some(id) = &item.id {
        let _ = write!(attributes, " data-id=\"{}\"", escape(id));
    }
    let _ = write!(attributes, " data-kind=\"{}\" data-name=\"{}\"", escape(&item.kind), escape(&item.name));
    if let Some(ns) = &item.namespace {
        let _ = write!(attributes, " data-namespace=\"{}\"", escape(ns));
    }
    if item.missing {
        attributes.push_str(" data-missing=\"true\"");
    }
    format!(
        "<g class=\"node{missing}\" id=\"{element}\"{attributes} transform=\"translate({x} {y})\"><title>{title}</title>\
         <rect class=\"box\" width=\"{w}\" height=\"{h}\" rx=\"6\"/>\
         <rect class=\"badge\" x=\"6\" y=\"7\" width=\"{bw}\" height=\"30\" rx=\"4\" fill=\"{colour}\"/>\
         <text class=\"badge-text\" x=\"{bx}\" y=\"25\" text-anchor=\"middle\">{badge}</text>\
         <text class=\"kind\" x=\"{tx}\" y=\"18\">{kind}</text>\
         <text class=\"name\" x=\"{tx}\" y=\"34\">{name}</text></g>\n",
        missing = if item.missing { " missing" } else { "" },
        element = item.element,
        x = num(at.x),
        y = num(at.y),
        title = escape(&title),
        w = num(NODE_WIDTH),
        h = num(NODE_HEIGHT),
        bw = num(BADGE_WIDTH),
        bx = num(6.0 + BADGE_WIDTH / 2.0),
        badge = escape(&badge),
        tx = num(BADGE_WIDTH + 14.0),
        kind = escape(&clip(&kind_line, (text_width / SMALL_CHAR_WIDTH) as usize)),
        name = escape(&clip(&item.name, (text_width / CHAR_WIDTH) as usize)),
    )
}

/// The tops of the boxes of each column of each frame, to thread long
/// edges through the gaps between rows rather than behind boxes.
struct Columns(BTreeMap<(usize, i64), Vec<f64>>);

impl Columns {
    fn of(picture: &Picture) -> Columns {
        let mut columns: BTreeMap<(usize, i64), Vec<f64>> = BTreeMap::new();
        for (item, at) in picture.items.iter().zip(&picture.layout.nodes) {
            columns.entry((item.group, at.x as i64)).or_default().push(at.y);
        }
        for tops in columns.values_mut() {
            tops.sort_by(f64::total_cmp);
        }
        Columns(columns)
    }

    /// The columns of `group` strictly between x `a` and x `b`, in the
    /// order an edge from `a` to `b` crosses them.
    fn between(&self, group: usize, a: f64, b: f64) -> Vec<(f64, &[f64])> {
        let (low, high) = (a.min(b) as i64, a.max(b) as i64);
        let mut crossed: Vec<(f64, &[f64])> = self
            .0
            .range((group, low + 1)..(group, high))
            .map(|(&(_, x), tops)| (x as f64, tops.as_slice()))
            .collect();
        if b < a {
            crossed.reverse();
        }
        crossed
    }
}

/// The free height in a column nearest to `want`: above the first box,
/// between two boxes, or below the last.
fn lane(tops: &[f64], want: f64) -> f64 {
    let (Some(first), Some(last)) = (tops.first(), tops.last()) else { return want };
    let gaps = tops.windows(2).map(|w| (w[0] + NODE_HEIGHT + w[1]) / 2.0);
    std::iter::once(first - ROW_GAP)
        .chain(gaps)
        .chain(std::iter::once(last + NODE_HEIGHT + ROW_GAP))
        .min_by(|p, q| (p - want).abs().total_cmp(&(q - want).abs()))
        .unwrap_or(want)
}

/// A smooth step from one point to another, level at both ends.
fn step(path: &mut String, from: (f64, f64), to: (f64, f64)) {
    let bend = (to.0 - from.0) / 2.0;
    let bend = if bend.abs() < 30.0 { 30.0_f64.copysign(bend) } else { bend };
    let _ = write!(path, " C{},{} {},{} {},{}", num(from.0 + bend), num(from.1), num(to.0 - bend), num(to.1), num(to.0), num(to.1));
}

/// A curve from the side of one box to the side of the other that faces
/// it, level through the gaps of the columns in between; between boxes in
/// one column, a loop out to the right.
fn edge(picture: &Picture, columns: &Columns, index: usize, link: &Link) -> String {
    let (a, b) = (picture.layout.nodes[link.from], picture.layout.nodes[link.to]);
    let (ay, by) = (a.y + NODE_HEIGHT / 2.0, b.y + NODE_HEIGHT / 2.0);
    let forwards = b.x >= a.x + NODE_WIDTH + 10.0;
    let backwards = b.x + NODE_WIDTH + 10.0 <= a.x;
    let mut path = String::new();
    if link.from == link.to {
        let (x, y) = (a.x + NODE_WIDTH, a.y);
        let _ = write!(path, "M{},{} C{},{} {},{} {},{}", num(x), num(y + 12.0), num(x + 40.0), num(y - 10.0), num(x + 40.0), num(y + 54.0), num(x), num(y + 32.0));
    } else if forwards || backwards {
        let (start, end) = if forwards { ((a.x + NODE_WIDTH, ay), (b.x, by)) } else { ((a.x, ay), (b.x + NODE_WIDTH, by)) };
        let _ = write!(path, "M{},{}", num(start.0), num(start.1));
        let mut at = start;
        let group = picture.items[link.from].group;
        if group == picture.items[link.to].group {
            for (x, tops) in columns.between(group, a.x, b.x) {
                let (enter, leave) = if forwards { (x, x + NODE_WIDTH) } else { (x + NODE_WIDTH, x) };
                let want = start.1 + (end.1 - start.1) * (enter - start.0) / (end.0 - start.0);
                let y = lane(tops, want);
                step(&mut path, at, (enter, y));
                let _ = write!(path, " L{},{}", num(leave), num(y));
                at = (leave, y);
            }
        }
        step(&mut path, at, end);
    } else {
        let (sx, ex) = (a.x + NODE_WIDTH, b.x + NODE_WIDTH);
        let bend = 30.0 + ((by - ay).abs() / 4.0).min(60.0);
        let _ = write!(path, "M{},{} C{},{} {},{} {},{}", num(sx), num(ay), num(sx + bend), num(ay), num(ex + bend), num(by), num(ex), num(by));
    }
    let mut class = format!("edge {}", link.family.class());
    if link.inferred {
        class.push_str(" inferred");
    }
    let mut code = String::new();
    if let Some(dangling) = &link.dangling {
        class.push_str(" dangling");
        code = format!(" data-code=\"{}\"", escape(dangling));
    }
    let marker = if link.dangling.is_some() { "dangling" } else { link.family.class() };
    let how = match (&link.dangling, link.inferred) {
        (Some(code), _) => format!("names nothing: {code}"),
        (None, true) => "inferred".to_owned(),
        (None, false) => "declared".to_owned(),
    };
    let (from, to) = (&picture.items[link.from], &picture.items[link.to]);
    format!(
        "<path class=\"{class}\" id=\"e{index}\" data-from=\"{}\" data-to=\"{}\" data-relationship=\"{}\"{code} d=\"{path}\" marker-end=\"url(#arrow-{marker})\"><title>{}</title></path>\n",
        from.element,
        to.element,
        escape(&link.label),
        escape(&format!("{} → {}: {} ({how})", from.name, to.name, link.label)),
    )
}

/// The legend, drawn over the picture's top-left corner, and its width.
fn legend(picture: &Picture) -> (String, f64) {
    let sample = |x: f64, y: f64, class: &str, marker: &str, text: &str| {
        format!(
            "<path class=\"edge {class}\" d=\"M{},{} L{},{}\" marker-end=\"url(#arrow-{marker})\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
            num(x),
            num(y),
            num(x + 30.0),
            num(y),
            num(x + 38.0),
            num(y + 4.0),
            escape(text)
        )
    };
    let advance = |text: &str| 38.0 + text.chars().count() as f64 * 6.5 + 18.0;
    let mut body = String::new();
    let mut x = 10.0;
    let styles = [
        ("sample", "sample", "declared"),
        ("sample inferred", "sample", "inferred"),
        ("sample dangling", "dangling", "names nothing (missing)"),
    ];
    let has_dangling = picture.links.iter().any(|l| l.dangling.is_some());
    for (class, marker, text) in styles.into_iter().filter(|s| has_dangling || s.1 != "dangling") {
        body.push_str(&sample(x, 18.0, class, marker, text));
        x += advance(text);
    }
    let mut width = x;
    x = 10.0;
    for family in picture.families() {
        body.push_str(&sample(x, 40.0, family.class(), family.class(), family.legend()));
        x += advance(family.legend());
    }
    width = width.max(x);
    let legend = format!(
        "<g class=\"legend\" transform=\"translate({} 8)\"><rect class=\"back\" width=\"{}\" height=\"{}\" rx=\"6\"/>\n{body}</g>\n",
        num(MARGIN),
        num(width),
        num(LEGEND_HEIGHT - 18.0),
    );
    (legend, width)
}

/// The width a frame needs for its label, up to a limit past which the
/// label is clipped instead.
pub(super) fn label_width(label: &str) -> f64 {
    (label.chars().count() as f64 * CHAR_WIDTH + 2.0 * GROUP_PADDING).min(3.0 * NODE_WIDTH)
}

/// A short badge for well-known kinds (kubectl's short names), else the
/// kind's capitals; coloured by what the kind is for.
fn badge(kind: &str) -> (String, &'static str) {
    const WORKLOAD: &str = "#1565c0";
    const NETWORK: &str = "#2e7d32";
    const CONFIG: &str = "#b26a00";
    const STORAGE: &str = "#6d4c41";
    const ACCESS: &str = "#6a1b9a";
    const CLUSTER: &str = "#546e7a";
    let known = match kind {
        "Deployment" => Some(("deploy", WORKLOAD)),
        "StatefulSet" => Some(("sts", WORKLOAD)),
        "DaemonSet" => Some(("ds", WORKLOAD)),
        "ReplicaSet" => Some(("rs", WORKLOAD)),
        "Job" => Some(("job", WORKLOAD)),
        "CronJob" => Some(("cj", WORKLOAD)),
        "Pod" => Some(("pod", WORKLOAD)),
        "HorizontalPodAutoscaler" => Some(("hpa", WORKLOAD)),
        "PodDisruptionBudget" => Some(("pdb", WORKLOAD)),
        "Service" => Some(("svc", NETWORK)),
        "Ingress" => Some(("ing", NETWORK)),
        "NetworkPolicy" => Some(("netpol", NETWORK)),
        "Gateway" => Some(("gw", NETWORK)),
        "HTTPRoute" => Some(("http", NETWORK)),
        "GRPCRoute" => Some(("grpc", NETWORK)),
        "VirtualService" => Some(("vs", NETWORK)),
        "DestinationRule" => Some(("dr", NETWORK)),
        "ConfigMap" => Some(("cm", CONFIG)),
        "Secret" => Some(("secret", CONFIG)),
        "PersistentVolumeClaim" => Some(("pvc", STORAGE)),
        "PersistentVolume" => Some(("pv", STORAGE)),
        "StorageClass" => Some(("sc", STORAGE)),
        "ServiceAccount" => Some(("sa", ACCESS)),
        "Role" => Some(("role", ACCESS)),
        "ClusterRole" => Some(("crole", ACCESS)),
        "RoleBinding" => Some(("rb", ACCESS)),
        "ClusterRoleBinding" => Some(("crb", ACCESS)),
        "Namespace" => Some(("ns", CLUSTER)),
        "CustomResourceDefinition" => Some(("crd", CLUSTER)),
        _ => None,
    };
    if let Some((text, colour)) = known {
        return (text.to_owned(), colour);
    }
    const OTHERS: [&str; 6] = ["#00838f", "#ad1457", "#4527a0", "#558b2f", "#283593", "#bf360c"];
    // FNV-1a: a colour per kind that never changes between runs.
    let hash = kind.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let capitals: String = kind.chars().filter(char::is_ascii_uppercase).take(4).collect();
    let text = if capitals.chars().count() >= 2 { capitals } else { kind.chars().take(4).collect::<String>().to_lowercase() };
    (text, OTHERS[(hash % OTHERS.len() as u64) as usize])
}

/// `text` cut to `room` characters, with an ellipsis when cut.
fn clip(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(room.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}


/// Coordinates with at most one decimal, the same on every platform.
fn num(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 { format!("{}", rounded as i64) } else { format!("{rounded:.1}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_and_clipping() {
        assert_eq!(badge("Deployment").0, "deploy");
        assert_eq!(badge("WasmPlugin").0, "WP");
        assert_eq!(badge("foo").0, "foo");
        assert_eq!(badge("Certificate").0, "cert");
        assert_eq!(badge("Certificate"), badge("Certificate"));
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }

    #[test]
    fn long_edges_take_the_gap_nearest_their_way() {
        let tops = [0.0, NODE_HEIGHT + ROW_GAP, 2.0 * (NODE_HEIGHT + ROW_GAP)];
        let between_first_two = NODE_HEIGHT + ROW_GAP / 2.0;
        assert_eq!(lane(&tops, 50.0), between_first_two);
        assert_eq!(lane(&tops, -100.0), -ROW_GAP, "above the first box");
        assert_eq!(lane(&tops, 1000.0), tops[2] + NODE_HEIGHT + ROW_GAP, "below the last");
        assert_eq!(lane(&[], 42.0), 42.0, "an empty column is no obstacle");
    }

    #[test]
    fn numbers_are_stable() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(3.25), "3.3");
    }
}
