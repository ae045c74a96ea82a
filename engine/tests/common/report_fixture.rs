//! A fixed report, shared by the report tests (`mod fixture;` via #[path]):
//! two small source files and diagnostics that exercise every branch of the
//! renderers — spans with and without length, multi-byte characters,
//! diagnostics without span or file, a file that never became a design, and
//! a message full of characters every format must escape.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use weft::diagnostic::{Diagnostic, Span, codes};
use weft::load::source::Sources;
use weft::load::yaml::Limits;
use weft::report::{DesignSummary, Report};

pub const APP: &str = "designs/app.yaml";
pub const BROKEN: &str = "manifests/broken.yaml";

pub const APP_TEXT: &str = "\
name: shop
schemaVersion: designs.meshery.io/v1beta1
components:
  - id: 7d0c1f62-0000-4000-8000-000000000001
    displayName: web
    component: { kind: Deployment, version: apps/v1 }
  - id: 7d0c1f62-0000-4000-8000-000000000001
    displayName: café-api
    component: { kind: Deploymnet, version: apps/v1 }
relationships: []
";

pub const BROKEN_TEXT: &str = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: \"a
data:
";

/// A message with every character some format escapes.
pub const NASTY: &str =
    "found unexpected end of stream in a quoted scalar \"a: <started here> & 100% sure,\r\nsecond line";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn sources() -> Sources {
    let mut sources = Sources::new(Limits::default());
    sources.add(APP.to_owned(), Arc::from(APP_TEXT));
    sources.add(BROKEN.to_owned(), Arc::from(BROKEN_TEXT));
    sources
}

fn span(line: u32, column: u32, len: u32) -> Option<Span> {
    Some(Span { line, column, len })
}

pub fn report() -> Report {
    let diagnostics = vec![
        Diagnostic::new(
            &codes::DUPLICATE_COMPONENT_ID,
            "component id `7d0c1f62-0000-4000-8000-000000000001` is also used by Deployment/web",
        )
        .at(APP, span(7, 9, 36))
        .component("Deploymnet/café-api"),
        // `café-api` is 8 characters but 9 bytes.
        Diagnostic::new(&codes::INVALID_NAME, "`café-api` is not a valid DNS-1123 name")
            .at(APP, span(8, 18, 9))
            .component("Deploymnet/café-api"),
        Diagnostic::new(&codes::UNKNOWN_KIND, "no model defines kind `Deploymnet` at apps/v1")
            .at(APP, span(9, 24, 10))
            .component("Deploymnet/café-api")
            .hint("did you mean `Deployment`?"),
        // No hint, to cover diagnostics rendered without one.
        Diagnostic { hint: None, ..Diagnostic::new(&codes::CYCLE, "relationships form a cycle: web -> café-api -> web").at(APP, None) },
        Diagnostic::new(&codes::YAML_SYNTAX, NASTY).at(BROKEN, span(5, 1, 0)),
        Diagnostic::new(&codes::SKIPPED_FILE, "not a design or a Kubernetes object").at("notes/readme.txt", None),
        Diagnostic { hint: None, ..Diagnostic::new(&codes::UNREADABLE, "cannot read `secrets/`: permission denied (os error 13)") },
    ];
    Report {
        files: 4,
        designs: vec![
            DesignSummary { file: APP.to_owned(), name: "shop".to_owned(), components: 2, relationships: 0 },
            DesignSummary {
                file: "manifests/ok.yaml".to_owned(),
                name: "ok".to_owned(),
                components: 3,
                relationships: 1,
            },
        ],
        diagnostics,
    }
}
