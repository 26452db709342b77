//! Commands that work from plain arguments (`&Paths`, `&Config`), never
//! `app::Ctx`: `app` loads the configuration and calls them.

pub mod notify_test;
