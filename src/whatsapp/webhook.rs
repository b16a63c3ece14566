//! Receiving: the subscription handshake, signatures, and payload parsing.
