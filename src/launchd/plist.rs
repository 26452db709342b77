//! Plist generation (see agents.rs).
