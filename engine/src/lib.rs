//! weft: a declarative GitOps engine. One module per pipeline stage; data
//! flows forward through the plain types in `design`, `graph` and `report`.

// Diagnostics are the error type of input-driven code: they are data meant
// to be collected and rendered, and their size is not on a hot path.
#![allow(clippy::result_large_err)]

pub mod design;
pub mod diagnostic;
pub mod graph;
pub mod load;
pub mod model;
pub mod report;
pub mod validate;
pub mod progress;
pub mod rego;
pub mod relate;
pub mod policy;
pub mod evaluate;
pub mod render;
pub mod cluster;
pub mod plan;
pub mod reconcile;

// Rego evaluation allocates a small value for nearly every step; glibc's
// allocator spent a third of a large run in malloc and free. Set here, not
// in the binary, so benchmarks and tests measure what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
