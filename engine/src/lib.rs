//! weft: a declarative GitOps engine. One module per pipeline stage; data
//! flows forward through the plain types in `design`, `graph` and `report`.

pub mod design;
pub mod diagnostic;
pub mod graph;
pub mod load;
pub mod model;
pub mod report;
pub mod validate;
pub mod progress;
