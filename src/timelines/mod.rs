//! TimelinesAI: webhook intake (v1 and v2) and message sending.
