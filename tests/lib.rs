//! Black-box tests live in `integration/`.
