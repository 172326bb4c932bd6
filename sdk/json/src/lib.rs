//! A dependency-free, allocation-free JSON scanner.
//!
//! weir uses it wherever it needs one field of a JSON event and nothing else:
//! the host keys events by a field and checks that input is JSON, plugins read
//! the fields they test or rewrite. One pass over the bytes both validates the
//! whole document (strict RFC 8259) and notes where the value at a [`Path`]
//! lies, so callers can read it, or splice a replacement into the original
//! bytes without reformatting anything else.
//!
//! ```
//! use weir_json::{Path, Scalar, find, scalar};
//!
//! let path: Path = "payer.card.id".parse()?;
//! let event = br#"{"payer": {"card": {"id": "c-42"}}, "amount": 12.5}"#;
//! let raw = find(event, &path)?.expect("the field exists");
//! assert_eq!(raw, br#""c-42""#);
//! assert_eq!(scalar(raw), Scalar::String("c-42".into()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What "strict" means here: no trailing commas, comments, `NaN` or leading
//! zeros; control characters inside strings must be escaped; escapes must be
//! valid and `\u` surrogates paired; strings must be UTF-8; nesting stops at
//! [`MAX_DEPTH`]. When an object has the same member name twice, the first
//! member is the one a path follows.

#![deny(missing_docs)]

mod error;
mod path;
mod scalar;
mod scan;
mod unescape;
mod write;

pub use error::{JsonError, JsonErrorKind};
pub use path::{Path, PathError, PathErrorKind};
pub use scalar::{Scalar, key_bytes, scalar};
pub use scan::{MAX_DEPTH, find, validate};
pub use write::push_string;
