//! See the crate description in Cargo.toml and ARCHITECTURE.md.
