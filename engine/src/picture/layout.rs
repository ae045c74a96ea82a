//! Where the boxes go. Each namespace group is drawn on its own as a
//! layered graph, left to right in dependency order (a Namespace before
//! what it holds, a ConfigMap before the Deployment that mounts it):
//! longest-path layers, then a few barycenter sweeps to untangle the
//! lines. Groups are then packed in rows. Everything is decided from
//! indices in load order, so the same graph always gets the same picture.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub(super) const NODE_WIDTH: f64 = 200.0;
pub(super) const NODE_HEIGHT: f64 = 44.0;
pub(super) const ROW_GAP: f64 = 14.0;
/// Wide enough for an edge's curve between two columns.
const COLUMN_GAP: f64 = 70.0;
/// A layer taller than this wraps into several columns, so a namespace
/// of two hundred ConfigMaps is not one endless column.
const MAX_PER_COLUMN: usize = 12;
pub(super) const GROUP_PADDING: f64 = 16.0;
pub(super) const GROUP_HEADER: f64 = 26.0;
const GROUP_GAP: f64 = 40.0;
pub(super) const MARGIN: f64 = 16.0;
const MIN_ROW_WIDTH: f64 = 1400.0;
const SWEEPS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Point {
    pub x: f64,
    pub y: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

pub(super) struct Layout {
    /// Top-left corner of each node.
    pub nodes: Vec<Point>,
    pub groups: Vec<Rect>,
    pub width: f64,
    pub height: f64,
}

/// Lays out nodes `0..group_of.len()`, node `i` in group `group_of[i]`
/// (groups are packed in index order, each at least as wide as
/// `min_widths` says, for its label), below `top`. `dependencies` are
/// (first, then) pairs; they may form cycles.
pub(super) fn layout(group_of: &[usize], min_widths: &[f64], dependencies: &[(usize, usize)], top: f64) -> Layout {
    let group_count = min_widths.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); group_count];
    // Position of each node within its group.
    let mut local = vec![0; group_of.len()];
    for (node, &group) in group_of.iter().enumerate() {
        local[node] = members[group].len();
        members[group].push(node);
    }
    let mut inner: Vec<Vec<(usize, usize)>> = vec![Vec::new(); group_count];
    for &(first, then) in dependencies {
        if first != then && group_of[first] == group_of[then] {
            inner[group_of[first]].push((local[first], local[then]));
        }
    }
    let drawn: Vec<Drawing> = members
        .iter()
        .zip(&inner)
        .zip(min_widths)
        .map(|((m, links), &min_width)| {
            let drawing = arrange(m.len(), links);
            Drawing { width: drawing.width.max(min_width), ..drawing }
        })
        .collect();

    // Rows of groups, wide enough for the widest group, and for the whole
    // to come out about as wide as a screen is (16:10), not one tall column.
    let area: f64 = drawn.iter().map(|d| (d.width + GROUP_GAP) * (d.height + GROUP_GAP)).sum();
    let row_limit = drawn.iter().map(|d| d.width).fold(MIN_ROW_WIDTH.max((area * 1.6).sqrt()), f64::max);
    let mut groups = Vec::with_capacity(group_count);
    let (mut x, mut y, mut row_height, mut right) = (MARGIN, top, 0.0_f64, MARGIN);
    for drawing in &drawn {
        if x > MARGIN && x + drawing.width > MARGIN + row_limit {
            x = MARGIN;
            y += row_height + GROUP_GAP;
            row_height = 0.0;
        }
        groups.push(Rect { x, y, width: drawing.width, height: drawing.height });
        right = right.max(x + drawing.width);
        row_height = row_height.max(drawing.height);
        x += drawing.width + GROUP_GAP;
    }
    let nodes = group_of
        .iter()
        .zip(&local)
        .map(|(&group, &at)| {
            let offset = drawn[group].nodes[at];
            let frame = groups[group];
            Point { x: frame.x + GROUP_PADDING + offset.x, y: frame.y + GROUP_PADDING + GROUP_HEADER + offset.y }
        })
        .collect();
    Layout { nodes, groups, width: right + MARGIN, height: y + row_height + MARGIN }
}

/// One group drawn alone: node corners relative to its content area, and
/// the group's outer size.
struct Drawing {
    nodes: Vec<Point>,
    width: f64,
    height: f64,
}

fn arrange(count: usize, links: &[(usize, usize)]) -> Drawing {
    let layers = order_layers(count, links);
    let mut nodes = vec![Point { x: 0.0, y: 0.0 }; count];
    let mut columns: Vec<&[usize]> = Vec::new();
    for layer in &layers {
        let wraps = layer.len().div_ceil(MAX_PER_COLUMN).max(1);
        columns.extend(layer.chunks(layer.len().div_ceil(wraps).max(1)));
    }
    let tallest = columns.iter().map(|c| c.len()).max().unwrap_or(1);
    let column_height = |n: usize| n as f64 * (NODE_HEIGHT + ROW_GAP) - ROW_GAP;
    for (c, column) in columns.iter().enumerate() {
        // Shorter columns are centred against the tallest.
        let offset = ((column_height(tallest) - column_height(column.len())) / 2.0).floor();
        for (row, &node) in column.iter().enumerate() {
            nodes[node] = Point { x: c as f64 * (NODE_WIDTH + COLUMN_GAP), y: offset + row as f64 * (NODE_HEIGHT + ROW_GAP) };
        }
    }
    let content_width = columns.len().max(1) as f64 * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP;
    Drawing {
        nodes,
        width: content_width + 2.0 * GROUP_PADDING,
        height: column_height(tallest) + 2.0 * GROUP_PADDING + GROUP_HEADER,
    }
}

/// Nodes by layer, each layer in drawing order.
fn order_layers(count: usize, links: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let order = dependency_order(count, links);
    let mut rank = vec![0; count];
    for (r, &node) in order.iter().enumerate() {
        rank[node] = r;
    }
    let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(first, then) in links {
        predecessors[then].push(first);
        neighbours[first].push(then);
        neighbours[then].push(first);
    }
    // Longest path; a link against the order closes a cycle and is
    // drawn backwards instead of lifting its target.
    let mut layer_of = vec![0; count];
    for &node in &order {
        layer_of[node] =
            predecessors[node].iter().filter(|&&p| rank[p] < rank[node]).map(|&p| layer_of[p] + 1).max().unwrap_or(0);
    }
    let depth = layer_of.iter().max().map_or(0, |d| d + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for &node in &order {
        layers[layer_of[node]].push(node);
    }

    // Barycenter sweeps, down then up: a node moves towards the mean
    // position of its neighbours on the side just settled. Positions are
    // fractions of the layer, so layers of different sizes line up.
    let mut position = vec![0.0; count];
    let place = |layer: &[usize], position: &mut Vec<f64>| {
        for (i, &node) in layer.iter().enumerate() {
            position[node] = (i as f64 + 0.5) / layer.len() as f64;
        }
    };
    for layer in &layers {
        place(layer, &mut position);
    }
    for sweep in 0..SWEEPS {
        let downwards = sweep % 2 == 0;
        let visit: Vec<usize> = if downwards { (1..depth).collect() } else { (0..depth.saturating_sub(1)).rev().collect() };
        for l in visit {
            let keys: Vec<(f64, f64, usize)> = layers[l]
                .iter()
                .map(|&node| {
                    let settled = neighbours[node]
                        .iter()
                        .filter(|&&n| if downwards { layer_of[n] < l } else { layer_of[n] > l })
                        .map(|&n| position[n]);
                    let (sum, n) = settled.fold((0.0, 0usize), |(s, n), p| (s + p, n + 1));
                    let barycenter = if n == 0 { position[node] } else { sum / n as f64 };
                    (barycenter, position[node], node)
                })
                .collect();
            let mut keys = keys;
            keys.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
            layers[l] = keys.into_iter().map(|(_, _, node)| node).collect();
            place(&layers[l], &mut position);
        }
    }
    layers
}

/// A topological order, smallest index first among the ready nodes; a
/// cycle is broken at its first node in load order.
fn dependency_order(count: usize, links: &[(usize, usize)]) -> Vec<usize> {
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut indegree = vec![0usize; count];
    for &(first, then) in links {
        successors[first].push(then);
        indegree[then] += 1;
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..count).filter(|&n| indegree[n] == 0).map(Reverse).collect();
    let mut placed = vec![false; count];
    let mut order = Vec::with_capacity(count);
    // Nodes below it are all placed.
    let mut first_unplaced = 0;
    while order.len() < count {
        let node = match ready.pop() {
            Some(Reverse(node)) if placed[node] => continue,
            Some(Reverse(node)) => node,
            None => {
                while first_unplaced < count && placed[first_unplaced] {
                    first_unplaced += 1;
                }
                if first_unplaced == count {
                    break;
                }
                first_unplaced
            }
        };
        placed[node] = true;
        order.push(node);
        for &next in &successors[node] {
            indegree[next] = indegree[next].saturating_sub(1);
            if indegree[next] == 0 && !placed[next] {
                ready.push(Reverse(next));
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlaps(a: Point, b: Point) -> bool {
        (a.x - b.x).abs() < NODE_WIDTH && (a.y - b.y).abs() < NODE_HEIGHT
    }

    #[test]
    fn dependencies_go_left_to_right() {
        // 2 → 0 → 1: node 2 comes first whatever its index.
        let drawn = layout(&[0, 0, 0], &[0.0], &[(2, 0), (0, 1)], 0.0);
        assert!(drawn.nodes[2].x < drawn.nodes[0].x && drawn.nodes[0].x < drawn.nodes[1].x, "{:?}", drawn.nodes);
    }

    #[test]
    fn cycles_are_broken_and_every_node_is_placed() {
        let links = [(0, 1), (1, 2), (2, 0), (3, 3)];
        let order = dependency_order(4, &links);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3], "{order:?}");
        let drawn = layout(&[0; 4], &[0.0], &links, 0.0);
        for a in 0..4 {
            for b in a + 1..4 {
                assert!(!overlaps(drawn.nodes[a], drawn.nodes[b]), "{a} and {b} overlap: {:?}", drawn.nodes);
            }
        }
    }

    #[test]
    fn barycenter_sweeps_untangle_a_crossing() {
        // Layer 0: 0, 1; layer 1: 2, 3 with 0 → 3 and 1 → 2: drawn in
        // load order they cross, after the sweeps they do not.
        let layers = order_layers(4, &[(0, 3), (1, 2)]);
        assert_eq!(layers.len(), 2);
        let row = |node: usize| layers.iter().find_map(|l| l.iter().position(|&n| n == node)).unwrap();
        assert_eq!(row(0) < row(1), row(3) < row(2), "{layers:?}");
    }

    #[test]
    fn tall_layers_wrap_into_columns_and_groups_do_not_overlap() {
        let count = 40;
        let group_of: Vec<usize> = (0..count).map(|n| n % 3).collect();
        // Node 0 comes before the 13 others of its group: one layer of 13,
        // more than a column holds; the other links cross groups.
        let links: Vec<(usize, usize)> = (1..count).map(|n| (0, n)).collect();
        let drawn = layout(&group_of, &[0.0, 9000.0, 0.0], &links, 50.0);
        assert_eq!(drawn.groups[1].width, 9000.0, "a long label widens its frame");
        let tallest = drawn.groups.iter().map(|g| g.height).fold(0.0, f64::max);
        assert!(tallest <= GROUP_HEADER + 2.0 * GROUP_PADDING + MAX_PER_COLUMN as f64 * (NODE_HEIGHT + ROW_GAP));
        for (a, ga) in drawn.groups.iter().enumerate() {
            assert!(ga.y >= 50.0);
            for gb in &drawn.groups[a + 1..] {
                let apart = ga.x + ga.width <= gb.x || gb.x + gb.width <= ga.x || ga.y + ga.height <= gb.y || gb.y + gb.height <= ga.y;
                assert!(apart, "{ga:?} {gb:?}");
            }
        }
        for (n, p) in drawn.nodes.iter().enumerate() {
            let g = drawn.groups[group_of[n]];
            assert!(p.x >= g.x && p.x + NODE_WIDTH <= g.x + g.width && p.y >= g.y && p.y + NODE_HEIGHT <= g.y + g.height);
            for q in &drawn.nodes[n + 1..] {
                assert!(!overlaps(*p, *q));
            }
        }
    }
}
