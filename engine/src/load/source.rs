//! The texts weft read, kept so any stage can quote a line or turn a JSON
//! pointer into a position long after loading. Trees are not kept: a
//! position is needed only for the few values a diagnostic names, so the
//! file is parsed again on demand, once.

use super::yaml::{self, Limits, Node};
use crate::diagnostic::Span;
use std::sync::{Arc, OnceLock};

pub type SourceId = usize;

#[derive(Debug)]
pub struct SourceFile {
    /// Path as shown to users: relative to the working directory when the
    /// file lies below it; `archive.tar:design.yml` for a file in an archive.
    pub display: String,
    pub text: Arc<str>,
    trees: OnceLock<Vec<Node>>,
}

#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
    limits: Limits,
}

impl Sources {
    pub fn new(limits: Limits) -> Self {
        Sources { files: Vec::new(), limits }
    }
    pub fn add(&mut self, display: String, text: Arc<str>) -> SourceId {
        self.files.push(SourceFile { display, text, trees: OnceLock::new() });
        self.files.len() - 1
    }
    pub fn get(&self, id: SourceId) -> &SourceFile {
        &self.files[id]
    }
    pub fn len(&self) -> usize {
        self.files.len()
    }
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    /// Position of the value a JSON pointer names in document `doc` of a
    /// file, or of its deepest existing ancestor.
    pub fn locate(&self, id: SourceId, doc: usize, pointer: &str) -> Span {
        self.tree(id, doc).map_or(Span { line: 1, column: 1, len: 0 }, |tree| tree.locate(pointer))
    }

    /// Position of the value an `Origin` names.
    pub fn locate_origin(&self, origin: &crate::design::Origin) -> Span {
        self.locate(origin.source, origin.doc, &origin.pointer)
    }

    /// The source text of the scalar a pointer names, as written (quotes
    /// included), when it is a scalar.
    pub fn scalar_text(&self, id: SourceId, doc: usize, pointer: &str) -> Option<&str> {
        let node = self.tree(id, doc)?.pointer(pointer)?;
        if matches!(node.value, yaml::Value::Seq(_) | yaml::Value::Map(_)) {
            return None;
        }
        let text = &self.files[id].text;
        let start = yaml::offset_of(text, node.span.line, node.span.column);
        text.get(start..start + node.span.len as usize)
    }

    /// Parses the trees of `ids` in parallel, ahead of locating many
    /// positions in them (each file is parsed once, on first use).
    pub fn warm(&self, ids: impl Iterator<Item = SourceId>) {
        use rayon::prelude::*;
        let ids: std::collections::BTreeSet<SourceId> = ids.collect();
        let ids: Vec<SourceId> = ids.into_iter().collect();
        ids.par_iter().for_each(|&id| {
            self.tree(id, 0);
        });
    }

    /// Document `doc` of a file as JSON, every field kept.
    pub fn document_json(&self, id: SourceId, doc: usize) -> Option<serde_json::Value> {
        self.tree(id, doc).map(Node::to_json)
    }

    fn tree(&self, id: SourceId, doc: usize) -> Option<&Node> {
        let file = &self.files[id];
        let trees = file.trees.get_or_init(|| {
            yaml::parse_stream(&file.display, &file.text, &self.limits).unwrap_or_default()
        });
        trees.get(doc)
    }
}
