//! The protocol: pure data (serde types and the method table). No IO happens here.
