//! YAML (and JSON, which YAML reads too) into a tree in which every node
//! keeps its source position, so later stages can turn a JSON pointer into
//! `file:line:column`.
//!
//! The parser is granit-parser (serde-saphyr's, which never panics on
//! input); building the tree here is where duplicate keys are rejected and
//! nesting, node count and alias expansion are capped.

use crate::diagnostic::{Diagnostic, Span, codes};
use serde_saphyr::granit_parser::{
    Event, Options as ParserOptions, Parser, ScalarStyle, ScanError, Span as ParserSpan, Tag,
};
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// Caps that keep hostile input cheap. Defaults suit real repositories: the
/// largest real CRD bundles nest about 40 levels and hold a few hundred
/// thousand nodes.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_file_size: u64,
    pub max_depth: usize,
    pub max_alias_replay: usize,
    pub max_nodes: usize,
}

/// The deepest nesting weft accepts whatever the settings say: later stages
/// (JSON conversion, schema validation) walk trees recursively on worker
/// threads with 2 MiB stacks.
pub const DEPTH_CEILING: usize = 1000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 16 * 1024 * 1024,
            max_depth: 128,
            max_alias_replay: 100_000,
            max_nodes: 10_000_000,
        }
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }
    #[cfg(test)]
    fn as_map_len(&self) -> usize {
        match &self.value {
            Value::Map(entries) => entries.len(),
            _ => 0,
        }
    }
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The node a JSON pointer (RFC 6901) names, if it exists.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        let mut node = self;
        for segment in pointer_segments(pointer) {
            node = node.child(&segment)?;
        }
        Some(node)
    }

    /// The span of the deepest node on the pointer's path: where to point
    /// when the pointer names something absent (a missing required field
    /// is reported at the object that lacks it). Keys are preferred to
    /// values so the caret lands on `replicas:` rather than on its value.
    pub fn locate(&self, pointer: &str) -> Span {
        let mut node = self;
        let mut span = self.span;
        for segment in pointer_segments(pointer) {
            match &node.value {
                Value::Map(entries) => match entries.iter().find(|e| e.key == segment) {
                    Some(entry) => {
                        span = entry.key_span;
                        node = &entry.value;
                    }
                    None => break,
                },
                Value::Seq(items) => match segment.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(item) => {
                        span = item.span;
                        node = item;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        span
    }

    fn child(&self, segment: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(_) => self.get(segment),
            Value::Seq(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => serde_json::Value::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => serde_json::Value::Object(
                entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect(),
            ),
        }
    }
}

fn pointer_segments(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
}

/// Escapes one JSON-pointer segment.
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Parses every document of a YAML stream. Empty documents (a stray `---`)
/// are dropped, as kubectl drops them. `file` only labels diagnostics.
///
/// granit-parser (the parser under serde-saphyr) supplies the events; the
/// tree is built here, without serde, because that is several times faster
/// and lets every key and value keep its span. Plain scalars resolve as
/// Kubernetes resolves them (YAML 1.1, as sigs.k8s.io/yaml does): `yes`/`no`
/// /`on`/`off` are booleans, `0644` is octal, `1_000` is a number.
pub fn parse_stream(file: &str, text: &str, limits: &Limits) -> Result<Vec<Node>, Diagnostic> {
    let mut options = ParserOptions::default();
    options.emit_comments = false;
    // The parser's own nesting caps guard its stack; ours is checked below
    // with a clearer message, so theirs must not trip first.
    let depth = limits.max_depth.min(DEPTH_CEILING);
    options.flow_nesting_limit = depth + 1;
    options.block_nesting_limit = depth + 1;
    let parser = Parser::new_from_str_with_options(text, options);
    let mut builder = Builder { file, limits, docs: Vec::new(), stack: Vec::new(), anchors: HashMap::new(), nodes: 0, replayed: 0 };
    for event in parser {
        let (event, span) = event.map_err(|e| scan_error(file, &e, limits))?;
        builder.event(event, span)?;
    }
    Ok(builder.docs)
}

fn scan_error(file: &str, error: &ScanError, limits: &Limits) -> Diagnostic {
    let marker = error.marker();
    let span = Span { line: marker.line() as u32, column: marker.col() as u32 + 1, len: 0 };
    let info = error.info();
    let lowered = info.to_ascii_lowercase();
    if lowered.contains("nest") || lowered.contains("depth") || lowered.contains("recursion") {
        return Diagnostic::new(&codes::NESTING_LIMIT, format!("nesting deeper than {} levels", limits.max_depth.min(DEPTH_CEILING)))
            .at(file, Some(span));
    }
    Diagnostic::new(&codes::YAML_SYNTAX, info.to_owned()).at(file, Some(span))
}

fn span_of(span: &ParserSpan) -> Span {
    let len = match (span.start.byte_offset(), span.end.byte_offset()) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => span.end.index().saturating_sub(span.start.index()),
    };
    Span { line: span.start.line() as u32, column: span.start.col() as u32 + 1, len: len as u32 }
}

/// How much a subtree holds: its node count (what replaying it through an
/// alias costs) and its height in collection levels (how deep it nests
/// wherever an alias puts it).
#[derive(Clone, Copy)]
struct Extent {
    nodes: usize,
    height: usize,
}

const SCALAR: Extent = Extent { nodes: 1, height: 0 };
const EMPTY_COLLECTION: Extent = Extent { nodes: 1, height: 1 };

/// A mapping key waiting for its value.
struct Key {
    text: String,
    span: Span,
    merge: bool,
}

enum Frame {
    Seq { span: Span, anchor: usize, items: Vec<Node>, extent: Extent },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<Key>,
        extent: Extent,
        merges: Vec<Node>,
        /// Keys of large mappings, for duplicate checks in constant time.
        index: Option<HashSet<String>>,
    },
}

struct Builder<'a> {
    file: &'a str,
    limits: &'a Limits,
    docs: Vec<Node>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, Extent)>,
    nodes: usize,
    replayed: usize,
}

impl Builder<'_> {
    fn fail(&self, code: &'static crate::diagnostic::Code, message: String, span: Span) -> Diagnostic {
        Diagnostic::new(code, message).at(self.file, Some(span))
    }

    fn event(&mut self, event: Event<'_>, span: ParserSpan) -> Result<(), Diagnostic> {
        let at = span_of(&span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve_scalar(&text, style, tag.as_deref());
                self.count(1, at)?;
                let node = Node { span: at, value };
                if anchor != 0 {
                    self.anchors.insert(anchor, (node.clone(), SCALAR));
                }
                // Only a plain, untagged `<<` is a merge key; `"<<"` is text.
                let merge = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                self.push_scalar(node, merge)
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(at)?;
                self.stack.push(Frame::Seq { span: at, anchor, items: Vec::new(), extent: EMPTY_COLLECTION });
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(at)?;
                self.stack.push(Frame::Map {
                    span: at,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    extent: EMPTY_COLLECTION,
                    merges: Vec::new(),
                    index: None,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { span, anchor, items, extent }) => {
                    self.close(Node { span, value: Value::Seq(items) }, anchor, extent)
                }
                _ => Err(self.fail(&codes::YAML_SYNTAX, "unbalanced sequence".into(), at)),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map { span, anchor, mut entries, extent, merges, .. }) => {
                    merge_keys(&mut entries, merges);
                    self.close(Node { span, value: Value::Map(entries) }, anchor, extent)
                }
                _ => Err(self.fail(&codes::YAML_SYNTAX, "unbalanced mapping".into(), at)),
            },
            Event::Alias(anchor) => {
                let Some((node, extent)) = self.anchors.get(&anchor) else {
                    return Err(self.fail(&codes::YAML_SYNTAX, "alias to an unknown anchor".into(), at));
                };
                let (mut node, extent) = (node.clone(), *extent);
                // Chained anchors can nest deeper than any literal text does.
                if self.stack.len() + extent.height > self.max_depth() {
                    return Err(self.nesting_error(at));
                }
                self.replayed = self.replayed.saturating_add(extent.nodes);
                if self.replayed > self.limits.max_alias_replay {
                    return Err(self.fail(
                        &codes::ALIAS_LIMIT,
                        format!("aliases expand to more than {} nodes", self.limits.max_alias_replay),
                        at,
                    ));
                }
                self.count(extent.nodes, at)?;
                // The alias is where the value is used; point there.
                node.span = at;
                self.push(node, extent)
            }
            Event::DocumentEnd => {
                self.anchors.clear();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn count(&mut self, n: usize, at: Span) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(self.fail(&codes::ALIAS_LIMIT, format!("more than {} YAML nodes", self.limits.max_nodes), at));
        }
        Ok(())
    }

    fn max_depth(&self) -> usize {
        self.limits.max_depth.min(DEPTH_CEILING)
    }

    fn nesting_error(&self, at: Span) -> Diagnostic {
        self.fail(&codes::NESTING_LIMIT, format!("nesting deeper than {} levels", self.max_depth()), at)
    }

    fn open(&mut self, at: Span) -> Result<(), Diagnostic> {
        if self.stack.len() >= self.max_depth() {
            return Err(self.nesting_error(at));
        }
        self.count(1, at)
    }

    fn close(&mut self, node: Node, anchor: usize, extent: Extent) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), extent));
        }
        self.push(node, extent)
    }

    /// Adds a finished node to the collection being built, or ends a document.
    fn push(&mut self, node: Node, child: Extent) -> Result<(), Diagnostic> {
        self.push_node(node, child, false)
    }

    fn push_scalar(&mut self, node: Node, merge: bool) -> Result<(), Diagnostic> {
        self.push_node(node, SCALAR, merge)
    }

    fn push_node(&mut self, node: Node, child: Extent, merge: bool) -> Result<(), Diagnostic> {
        match self.stack.last_mut() {
            None => {
                if !node.is_null() {
                    self.docs.push(node);
                }
                Ok(())
            }
            Some(Frame::Seq { items, extent, .. }) => {
                extent.grow(child);
                items.push(node);
                Ok(())
            }
            Some(Frame::Map { entries, key, extent, merges, index, .. }) => {
                extent.grow(child);
                match key.take() {
                    None => {
                        let text = match node.value {
                            Value::String(s) => s,
                            Value::Null => "null".to_owned(),
                            Value::Bool(b) => b.to_string(),
                            Value::Number(n) => n.to_string(),
                            Value::Seq(_) | Value::Map(_) => {
                                return Err(Diagnostic::new(&codes::YAML_SYNTAX, "a mapping key must be a scalar")
                                    .at(self.file, Some(node.span)));
                            }
                        };
                        *key = Some(Key { text, span: node.span, merge });
                        Ok(())
                    }
                    Some(Key { merge: true, .. }) => {
                        merges.push(node);
                        Ok(())
                    }
                    Some(Key { text: k, span: key_span, .. }) => {
                        if is_duplicate(entries, index, &k) {
                            return Err(Diagnostic::new(&codes::DUPLICATE_KEY, format!("duplicate key `{k}`"))
                                .at(self.file, Some(key_span)));
                        }
                        entries.push(Entry { key: k, key_span, value: node });
                        Ok(())
                    }
                }
            }
        }
    }
}

/// Whether `key` is already in the mapping; records it if not. Most
/// mappings are small and a scan beats hashing, but a hostile one with a
/// million keys must not cost a million scans.
fn is_duplicate(entries: &[Entry], index: &mut Option<HashSet<String>>, key: &str) -> bool {
    const SCAN_LIMIT: usize = 16;
    if let Some(index) = index {
        return !index.insert(key.to_owned());
    }
    if entries.iter().any(|e| e.key == key) {
        return true;
    }
    if entries.len() >= SCAN_LIMIT {
        let mut keys: HashSet<String> = entries.iter().map(|e| e.key.clone()).collect();
        keys.insert(key.to_owned());
        *index = Some(keys);
    }
    false
}

impl Extent {
    fn grow(&mut self, child: Extent) {
        self.nodes = self.nodes.saturating_add(child.nodes);
        self.height = self.height.max(child.height + 1);
    }
}

/// YAML merge keys (`<<: *base`): merged entries never override keys the
/// mapping sets itself; earlier merge sources win over later ones.
fn merge_keys(entries: &mut Vec<Entry>, merges: Vec<Node>) {
    if merges.is_empty() {
        return;
    }
    let mut present: HashSet<String> = entries.iter().map(|e| e.key.clone()).collect();
    for source in merges {
        let maps: Vec<Node> = match source.value {
            Value::Map(_) => vec![source],
            Value::Seq(items) => items,
            _ => continue,
        };
        for map in maps {
            if let Value::Map(merged) = map.value {
                for entry in merged {
                    if present.insert(entry.key.clone()) {
                        entries.push(entry);
                    }
                }
            }
        }
    }
}

/// Resolves a scalar as go-yaml v2 (used by sigs.k8s.io/yaml, and so by
/// kubectl and the API server's YAML decoding) does: quoted and block
/// scalars are strings; plain ones may be null, booleans or numbers.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    match tag {
        Some(tag) if tag.is_yaml_core_schema() => match tag.suffix() {
            "str" => return Value::String(text.to_owned()),
            "null" => return Value::Null,
            // `!!int "5"` is the number 5, quoted or not.
            _ => return resolve_plain(text),
        },
        // Application tags (`!Ref x`) are not resolved by Kubernetes' YAML.
        Some(_) => return Value::String(text.to_owned()),
        None => {}
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_owned());
    }
    resolve_plain(text)
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => return Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    resolve_number(text).unwrap_or_else(|| Value::String(text.to_owned()))
}

/// Whether a plain scalar, as written, reads as something other than a
/// string: the cause of most "expected string" surprises (`on`, `no`, `0644`).
pub fn is_implicitly_typed(written: &str) -> bool {
    !matches!(resolve_scalar(written, ScalarStyle::Plain, None), Value::String(_))
}

/// "boolean", "number" or "null", for hints.
pub fn implicit_type_name(written: &str) -> &'static str {
    match resolve_scalar(written, ScalarStyle::Plain, None) {
        Value::Bool(_) => "boolean",
        Value::Null => "null",
        _ => "number",
    }
}

/// Numbers as go-yaml v2 reads them: underscores dropped, then Go's
/// `ParseInt(s, 0, 64)` (decimal, `0x`, `0o`, `0b`, and a leading `0` for
/// octal), then `ParseUint`, then a YAML-style float.
fn resolve_number(text: &str) -> Option<Value> {
    let first = *text.as_bytes().first()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match plain.as_bytes().first() {
        Some(b'-') => (true, &plain[1..]),
        Some(b'+') => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    let lowered = digits.get(..2).map(str::to_ascii_lowercase);
    let (radix, body) = match lowered.as_deref() {
        Some("0x") => (16, &digits[2..]),
        Some("0o") => (8, &digits[2..]),
        Some("0b") => (2, &digits[2..]),
        _ if digits.len() > 1 && digits.starts_with('0') => (8, &digits[1..]),
        _ => (10, digits),
    };
    // from_str_radix would accept a sign here; Go does not.
    let magnitude = if !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        u64::from_str_radix(body, radix).ok()
    } else {
        None
    };
    if let Some(magnitude) = magnitude {
        if !negative {
            return Some(Value::Number(magnitude.into()));
        }
        if let Ok(value) = i64::try_from(-i128::from(magnitude)) {
            return Some(Value::Number(value.into()));
        }
    }
    let is_float = digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().any(|b| b.is_ascii_digit());
    if !is_float {
        return None;
    }
    let value: f64 = plain.parse().ok()?;
    serde_json::Number::from_f64(value).map(Value::Number)
}

/// Byte offset of a 1-based line and character column.
pub fn offset_of(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            return offset
                + l.char_indices().nth(column.saturating_sub(1) as usize).map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

/// Line and column (1-based) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line as u32, column as u32)
}


#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> serde_json::Value {
        let docs = parse_stream("t", &format!("k: {text}\n"), &Limits::default()).unwrap();
        docs[0].get("k").unwrap().to_json()
    }

    #[test]
    fn scalars_resolve_as_go_yaml_v2_does() {
        use serde_json::json;
        let cases = [
            ("yes", json!(true)),
            ("Off", json!(false)),
            ("y", json!(true)),
            ("~", json!(null)),
            ("0644", json!(420)),
            ("09", json!(9.0)),
            ("0x1F", json!(31)),
            ("0X1F", json!(31)),
            ("0o17", json!(15)),
            ("0B101", json!(5)),
            ("0x+1F", json!("0x+1F")),
            ("0x", json!("0x")),
            ("1_000", json!(1000)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("18446744073709551615", json!(u64::MAX)),
            ("1e3", json!(1000.0)),
            (".5", json!(0.5)),
            ("+.5", json!(0.5)),
            ("-0", json!(0)),
            ("1.2.3", json!("1.2.3")),
            ("2024-01-01", json!("2024-01-01")),
            (".inf", json!(".inf")),
            ("\"yes\"", json!("yes")),
            ("'0644'", json!("0644")),
            ("!!str 5", json!("5")),
            ("!!int \"5\"", json!(5)),
            ("!Ref 5", json!("5")),
            ("a:b", json!("a:b")),
        ];
        for (text, expected) in cases {
            assert_eq!(scalar(text), expected, "{text}");
        }
    }

    #[test]
    fn chained_aliases_cannot_nest_past_the_cap() {
        let limits = Limits { max_depth: 20, ..Limits::default() };
        let mut text = String::from("a0: &a0 [x]\n");
        for i in 1..30 {
            text.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
        }
        let error = parse_stream("t", &text, &limits).unwrap_err();
        assert_eq!(error.code, "nesting-limit", "{error:?}");
    }

    #[test]
    fn merge_keys_never_override_and_stay_linear() {
        let docs = parse_stream("t", "base: &b {a: 1, b: 2}\nm:\n  <<: *b\n  b: 3\n", &Limits::default()).unwrap();
        assert_eq!(docs[0].get("m").unwrap().to_json(), serde_json::json!({"b": 3, "a": 1}));
        let docs = parse_stream("t", "m: {\"<<\": {a: 1}, '<<x': 2}\n", &Limits::default()).unwrap();
        assert_eq!(docs[0].get("m").unwrap().to_json(), serde_json::json!({"<<": {"a": 1}, "<<x": 2}), "a quoted << is text");
        let keys: String = (0..50_000).map(|i| format!("k{i}: v, ")).collect();
        let started = std::time::Instant::now();
        let docs = parse_stream("t", &format!("m: {{<<: {{{keys}}}, z: 1}}\n"), &Limits::default()).unwrap();
        assert_eq!(docs[0].get("m").unwrap().as_map_len(), 50_001);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
