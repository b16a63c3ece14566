//! Unit tests of the RM adapter's spec forms and pure parts.
