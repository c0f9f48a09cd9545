//! Parsers from files on disk to a [`crate::Run`], detecting the format from content and name.
