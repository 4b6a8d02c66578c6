//! PromQL-style label matchers (being written).
