//! See Cargo.toml and ARCHITECTURE.md.
