//! Meta's error JSON and its retry classes.
