//! The CI side: reading a project's manifest and lockfile into a request, and
//! (in `fetch`) restoring the tree the server answers with.

mod project;

pub use project::{ProjectSpec, load_project};
