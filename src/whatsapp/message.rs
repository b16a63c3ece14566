//! The typed send-request model.
